package dnssrv

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
	"github.com/miekg/dns"
)

// TestStats sends real queries over UDP (both paths) and TCP and checks the counts the
// metrics are made from.
func TestStats(t *testing.T) {
	cat, err := mailconf.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, noFast := range []bool{false, true} {
		t.Run(fmt.Sprintf("noFast=%v", noFast), func(t *testing.T) {
			s := startServer(t, cat, "127.0.0.1:0", noFast)
			ask := func(net, name string, qtype uint16, ednsVersion int) {
				t.Helper()
				m := new(dns.Msg)
				m.SetQuestion(name, qtype)
				if ednsVersion >= 0 {
					m.SetEdns0(1232, false)
					m.IsEdns0().SetVersion(uint8(ednsVersion))
				}
				c := &dns.Client{Net: net}
				if _, _, err := c.Exchange(m, s.Addr()); err != nil {
					t.Fatal(err)
				}
			}
			ask("udp", "_imaps._tcp.qq.com.", dns.TypeSRV, -1)
			ask("udp", "_IMAPS._tcp.QQ.com.", dns.TypeSRV, 0)
			ask("udp", "nope.qq.com.", dns.TypeA, 0)
			ask("tcp", "nope.qq.com.", dns.TypeA, -1)
			ask("udp", "example.com.", dns.TypeSOA, -1)
			ask("udp", "qq.com.", dns.TypeSOA, 1)    // BADVERS
			ask("udp", "qq.com.", dns.TypeNAPTR, -1) // an uncounted type
			var got []string
			s.Stats().Each(func(qtype, rcode, transport string, n uint64) {
				got = append(got, fmt.Sprintf("%s %s %s %d", qtype, rcode, transport, n))
			})
			sort.Strings(got)
			want := []string{
				"A NXDOMAIN tcp 1",
				"A NXDOMAIN udp 1",
				"SOA BADVERS udp 1",
				"SOA REFUSED udp 1",
				"SRV NOERROR udp 2",
				"other NOERROR udp 1",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("counts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestStatsCountAllocatesNothing(t *testing.T) {
	var s Stats
	m := new(dns.Msg)
	m.SetQuestion("_imaps._tcp.qq.com.", dns.TypeSRV)
	m.Response = true
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { s.count(wire, false) }); n != 0 {
		t.Fatalf("%v allocations per count", n)
	}
	s.count(wire[:5], false) // too short: ignored, no panic
}
