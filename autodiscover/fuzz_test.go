package autodiscover

import (
	"bytes"
	"testing"
)

// FuzzParseRequest feeds arbitrary bodies to the request parser and renders whatever
// answer they lead to. The seed corpus is in testdata/fuzz/FuzzParseRequest.
// Invariants: no panic; a markup declaration is always refused; every answer is one
// well-formed document in the base namespace with no declaration; a settings answer
// reads back the very address that was asked for.
func FuzzParseRequest(f *testing.F) {
	h := newTestHandler(f, qqCatalog(f))
	d := h.docs.Load()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseRequest(body)
		if err != nil {
			return
		}
		if hasMarkupDeclaration(bytes.TrimPrefix(body, utf8BOM)) {
			t.Fatalf("a body with a markup declaration was accepted")
		}
		tmpl, addr := h.answer(nil, d, req)
		s := new(scratch)
		tmpl.render(s, &fill{addr: addr, time: fixedTime, id: fixedID})
		if bytes.Contains(s.out, []byte("<!")) {
			t.Fatalf("declaration in the answer:\n%s", s.out)
		}
		root, err := parseXML(s.out)
		if err != nil {
			t.Fatalf("answer is not well-formed: %v\n%s", err, s.out)
		}
		if root.Name.Space != nsResponseBase || root.Name.Local != "Autodiscover" {
			t.Fatalf("root %v", root.Name)
		}
		if code := errorOf(t, s.out); code == "" {
			if got := settingsOf(t, s.out).DisplayName; got != addr.String() {
				t.Fatalf("DisplayName reads back %q, asked for %q", got, addr.String())
			}
		}
	})
}

// FuzzScanMatchesParse: whatever the scanner accepts, etree accepts too and reads
// the same request from. The seed corpus (testdata/fuzz/FuzzScanMatchesParse) holds the
// requests of real clients and their near misses.
func FuzzScanMatchesParse(f *testing.F) {
	for _, seed := range scanSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := scanRequest(body)
		if !ok {
			return
		}
		slow, err := parseRequestTree(body)
		if err != nil {
			t.Fatalf("the scanner accepts what etree refuses (%v):\n%q", err, body)
		}
		if fast != slow {
			t.Fatalf("scanner %+v, etree %+v:\n%q", fast, slow, body)
		}
	})
}
