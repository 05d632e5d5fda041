package dnssrv

import (
	"bytes"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

var (
	fuzzOnce    sync.Once
	fuzzAnswers []*answers
)

// FuzzServe feeds raw packets to the fast path and to the general path (UDP and
// TCP limits). Neither may panic; the general path may only fail to answer, never
// err; whatever the fast path answers must be what the general path answers, byte
// for byte; and every answer must parse, carry the query's ID and be a response.
// The seed corpus holds the queries of the query table, queries with records in the
// wrong sections (sectionCases) and malformed packets (testdata/fuzz/FuzzServe). Each
// packet goes to the test catalog and to the shapes catalog, whose zones share
// prepared answers (TestFastPathEveryName).
func FuzzServe(f *testing.F) {
	fuzzOnce.Do(func() {
		shapes, err := mailconf.Load("testdata/shapes.yaml")
		if err != nil {
			f.Fatal(err)
		}
		if shapes, err = withFileSources(shapes); err != nil {
			f.Fatal(err)
		}
		for _, cat := range []*mailconf.Catalog{testCatalog(f), shapes} {
			s, err := New(cat, nil)
			if err != nil {
				f.Fatal(err)
			}
			fuzzAnswers = append(fuzzAnswers, s.answers.Load())
		}
	})
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
	for _, name := range []string{"_imaps._tcp.a.com.", "_submissions._tcp.x.net.", "_caldavs._tcp.y.org.", "mta-sts.customer.com.", "nope.b.com.", "_tcp.deep.sub.customer.org."} {
		b, err := query{name: name, qtype: dns.TypeSRV, edns: true}.msg(0xbeef).Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, seed := range transferSeeds(f) {
		f.Add(seed)
	}
	out := make([]byte, maxTCPSize)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		for _, a := range fuzzAnswers {
			fuzzOne(t, a, pkt, out)
		}
	})
}

// fuzzOne checks one packet against one set of answers.
func fuzzOne(t *testing.T, a *answers, pkt, out []byte) {
	for _, tcp := range []bool{false, true} {
		n := a.fast.answer(pkt, out, tcp)
		msgs, err := a.serveRaw(pkt, loopback, tcp)
		if err != nil {
			t.Fatalf("general path (tcp %v): %v", tcp, err)
		}
		if n > 0 && (len(msgs) != 1 || !bytes.Equal(out[:n], msgs[0])) {
			t.Fatalf("tcp %v: fast path:\n%x\ngeneral path:\n%x", tcp, out[:n], msgs)
		}
		if !tcp && len(msgs) > 1 {
			t.Fatalf("%d messages over UDP", len(msgs))
		}
		for _, resp := range msgs {
			if !tcp && len(resp) > ednsUDPSize {
				t.Fatalf("%d bytes over UDP", len(resp))
			}
			if len(resp) > maxTCPSize {
				t.Fatalf("%d bytes in one message", len(resp))
			}
			var m dns.Msg
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("answer does not parse: %v\n%x", err, resp)
			}
			if !m.Response || m.Id != be16(pkt) {
				t.Fatalf("answer: qr %v id %d, query id %d", m.Response, m.Id, be16(pkt))
			}
			if !tcp && m.IsEdns0() == nil && len(resp) > minUDPSize {
				// RFC 1035 §4.2.1: without EDNS a UDP client takes 512 bytes.
				t.Fatalf("%d bytes over UDP without EDNS", len(resp))
			}
		}
	}
}
