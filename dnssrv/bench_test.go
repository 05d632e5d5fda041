package dnssrv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// benchQueries are the queries of the dnsperf comparison (bench/nsd-compare.sh):
// the three QQ SRV names, an NXDOMAIN and the empty non-terminal.
var benchQueries = []struct {
	name string
	q    query
}{
	{"srv", query{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}},
	{"srv-mixed-case-edns", query{name: "_POP3S._tcp.QQ.com.", qtype: dns.TypeSRV, edns: true, do: true}},
	{"nxdomain", query{name: "nope.qq.com.", qtype: dns.TypeA}},
	{"ent", query{name: "_tcp.qq.com.", qtype: dns.TypeSRV}},
	{"refused", query{name: "example.com.", qtype: dns.TypeA}},
}

func benchAnswers(b testing.TB) *answers {
	s, err := New(defaultCatalog(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	return s.answers.Load()
}

// BenchmarkFastPath is the per-query cost of the fast path: parse the header and
// question, look up, copy and patch the prepared answer. No allocations.
func BenchmarkFastPath(b *testing.B) {
	a := benchAnswers(b)
	out := make([]byte, ednsUDPSize)
	for _, bq := range benchQueries {
		pkt := mustPack(b, bq.q)
		b.Run(bq.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a.fast.answer(pkt, out, false) == 0 {
					b.Fatal("not answered by the fast path")
				}
			}
		})
	}
}

// BenchmarkGeneralPath is the per-query cost of the general path as the UDP loop
// calls it: unpack with miekg/dns, look up, build and pack the reply.
func BenchmarkGeneralPath(b *testing.B) {
	a := benchAnswers(b)
	for _, bq := range benchQueries {
		pkt := mustPack(b, bq.q)
		b.Run(bq.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if resp, err := a.serveRaw(pkt, loopback, false); err != nil || len(resp) != 1 {
					b.Fatal("no answer", err)
				}
			}
		})
	}
}

// BenchmarkUDPRoundTrip is one query and its answer over loopback, client included:
// a latency figure, not the server's CPU cost (see bench/nsd-compare.sh for that).
func BenchmarkUDPRoundTrip(b *testing.B) {
	for _, mode := range []struct {
		name   string
		noFast bool
	}{{"fast", false}, {"general", true}} {
		b.Run(mode.name, func(b *testing.B) {
			s := startServer(b, defaultCatalog(b), "127.0.0.1:0", mode.noFast)
			conn, err := net.Dial("udp", s.Addr())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			pkt := mustPack(b, benchQueries[0].q)
			buf := make([]byte, 1500)
			for b.Loop() {
				if _, err := conn.Write(pkt); err != nil {
					b.Fatal(err)
				}
				conn.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := conn.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFastPathAllocatesNothing holds the fast path to zero allocations per query.
func TestFastPathAllocatesNothing(t *testing.T) {
	a := benchAnswers(t)
	out := make([]byte, ednsUDPSize)
	for _, bq := range benchQueries {
		pkt := mustPack(t, bq.q)
		if n := testing.AllocsPerRun(100, func() {
			if a.fast.answer(pkt, out, false) == 0 {
				t.Fatal("not answered by the fast path")
			}
		}); n != 0 {
			t.Errorf("%s: %v allocations per query", bq.name, n)
		}
	}
}

// BenchmarkFastPathScale is the fast path's per-query cost with a hoster's 2 and
// 100,000 domains of one shape: the zone lookup is a map probe per label, so the
// cost should not grow with the number of zones beyond the map's cache misses.
func BenchmarkFastPathScale(b *testing.B) {
	for _, n := range []int{2, 100000} {
		var sb strings.Builder
		for i := range n - 1 {
			fmt.Fprintf(&sb, "c%d.example\n", i)
		}
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "domains.txt"), []byte(sb.String()), 0o644); err != nil {
			b.Fatal(err)
		}
		cat, err := mailconf.Parse(filepath.Join(dir, "c.yaml"), []byte(`providers:
  - id: hoster.example
    display_name: Hoster
    domains: [hoster.example]
    domains_from: [{file: domains.txt}]
    incoming: [{type: imap, hostname: "imap.%EMAILDOMAIN%", port: 993, socket: SSL}]
    outgoing: [{hostname: "smtp.%EMAILDOMAIN%", port: 465, socket: SSL}]
`))
		if err != nil {
			b.Fatal(err)
		}
		if cat, err = withFileSources(cat); err != nil {
			b.Fatal(err)
		}
		s, err := New(cat, nil)
		if err != nil {
			b.Fatal(err)
		}
		a := s.answers.Load()
		out := make([]byte, ednsUDPSize)
		// A name in the middle of the list, so its zone is no more likely cached.
		target := fmt.Sprintf("c%d.example.", (n-1)/2)
		for _, q := range []query{{name: "_imaps._tcp." + target, qtype: dns.TypeSRV}, {name: "nope." + target, qtype: dns.TypeA}} {
			pkt := mustPack(b, q)
			b.Run(fmt.Sprintf("%d/%s", n, strings.SplitN(q.name, ".", 2)[0]), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if a.fast.answer(pkt, out, false) == 0 {
						b.Fatal("not answered by the fast path")
					}
				}
			})
		}
	}
}
