package dnssrv

import (
	"bytes"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

var (
	fuzzOnce    sync.Once
	fuzzAnswers *answers
)

// FuzzServe feeds raw packets to the fast path and to the general path (UDP and
// TCP limits). Neither may panic; the general path may only fail to answer, never
// err; whatever the fast path answers must be what the general path answers, byte
// for byte; and every answer must parse, carry the query's ID and be a response.
// The seed corpus holds the queries of the query table, queries with records in the
// wrong sections (sectionCases) and malformed packets (testdata/fuzz/FuzzServe).
func FuzzServe(f *testing.F) {
	fuzzOnce.Do(func() {
		s, err := New(testCatalog(f), nil)
		if err != nil {
			f.Fatal(err)
		}
		fuzzAnswers = s.answers.Load()
	})
	a := fuzzAnswers
	for _, cases := range [][]tcase{qqCases, testCases} {
		for _, c := range cases {
			b, err := c.q.msg(0xbeef).Pack()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, c := range sectionCases(f) {
		f.Add(c.pkt)
	}
	out := make([]byte, ednsUDPSize)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		n := a.fast.answer(pkt, out)
		for _, udp := range []bool{true, false} {
			resp, err := a.serveRaw(pkt, udp)
			if err != nil {
				t.Fatalf("general path (udp %v): %v", udp, err)
			}
			if udp && n > 0 && !bytes.Equal(out[:n], resp) {
				t.Fatalf("fast path:\n%x\ngeneral path:\n%x", out[:n], resp)
			}
			if resp == nil {
				continue
			}
			if udp && len(resp) > ednsUDPSize {
				t.Fatalf("%d bytes over UDP", len(resp))
			}
			var m dns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("answer does not parse: %v\n%x", err, resp)
			}
			if !m.Response || m.Id != be16(pkt) {
				t.Fatalf("answer: qr %v id %d, query id %d", m.Response, m.Id, be16(pkt))
			}
		}
	})
}
