package dnssrv

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/mailconf/mailconf/internal/parallel"
	"github.com/mailconf/mailconf/internal/sources"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/dnssrv/zone"
)

// The query table for the behaviour in docs/dns.md. Every case runs over UDP and TCP
// against a server on 127.0.0.1:0, and its UDP query also goes through the fast
// and the general path, which must answer byte for byte alike.

func testCatalog(t testing.TB) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Load("testdata/test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func defaultCatalog(t testing.TB) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// forceXNet makes startServer use the x/net batch I/O even where raw batch I/O
// exists; TestQueries runs the table both ways.
var forceXNet bool

func startServer(t testing.TB, cat *mailconf.Catalog, addr string, noFast bool) *Server {
	t.Helper()
	s, err := New(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.noFast = noFast
	s.xnetIO = forceXNet
	if err := s.Start(addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s
}

// query describes a request.
type query struct {
	name   string
	qtype  uint16
	class  uint16 // 0: IN
	noRD   bool   // clear RD (set by default, as stub resolvers do)
	cd     bool
	edns   bool
	size   uint16 // EDNS UDP size; 0: 1232
	ver    uint8  // EDNS version
	do     bool
	opts   []dns.EDNS0
	opcode int
}

func (q query) msg(id uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(q.name, q.qtype)
	m.Id = id
	m.Opcode = q.opcode
	if q.class != 0 {
		m.Question[0].Qclass = q.class
	}
	m.RecursionDesired = !q.noRD
	m.CheckingDisabled = q.cd
	if q.edns {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		size := q.size
		if size == 0 {
			size = 1232
		}
		o.SetUDPSize(size)
		o.SetVersion(q.ver)
		if q.do {
			o.SetDo()
		}
		o.Option = q.opts
		m.Extra = append(m.Extra, o)
	}
	return m
}

// tcase is one row of the table: the expected rcode, AA, sections as zone text
// (SERIAL stands for the server's serial; the OPT is checked apart), and whether
// UDP truncates.
type tcase struct {
	name                string
	q                   query
	rcode               int
	aa                  bool
	answer, ns, extra   string
	truncatedOverUDP    bool
	nsid                string // expected NSID option, as text
	general             bool   // the fast path leaves this one to the general path
	answerCaseSensitive bool
}

const (
	negQQ  = "qq.com. 300 IN SOA ns1.mailconf.invalid. hostmaster.mailconf.invalid. SERIAL 3600 900 1209600 300"
	negOrg = `example.org. 600 IN SOA ns1.example.org. host\.master.example.org. SERIAL 3600 900 1209600 600`
	soaOrg = `example.org. 7200 IN SOA ns1.example.org. host\.master.example.org. SERIAL 3600 900 1209600 600`
	addrAD = "autodiscover.example.org. 7200 IN A 192.0.2.53\nautodiscover.example.org. 7200 IN AAAA 2001:db8::53"
	addrAC = "autoconfig.example.org. 7200 IN A 192.0.2.53\nautoconfig.example.org. 7200 IN AAAA 2001:db8::53"
)

// qqCases run against the built-in QQ Mail catalog.
var qqCases = []tcase{
	{name: "imaps", q: query{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imaps._tcp.qq.com. 3600 IN SRV 0 1 993 imap.qq.com."},
	{name: "pop3s", q: query{name: "_pop3s._tcp.qq.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_pop3s._tcp.qq.com. 3600 IN SRV 10 1 995 pop.qq.com."},
	{name: "submissions", q: query{name: "_submissions._tcp.qq.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_submissions._tcp.qq.com. 3600 IN SRV 0 1 465 smtp.qq.com."},
	{name: "alias imaps", q: query{name: "_imaps._tcp.foxmail.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imaps._tcp.foxmail.com. 3600 IN SRV 0 1 993 imap.qq.com."},
	{name: "alias pop3s", q: query{name: "_pop3s._tcp.foxmail.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_pop3s._tcp.foxmail.com. 3600 IN SRV 10 1 995 pop.qq.com."},
	{name: "alias submissions", q: query{name: "_submissions._tcp.foxmail.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_submissions._tcp.foxmail.com. 3600 IN SRV 0 1 465 smtp.qq.com."},
	// Nothing is invented for services the configuration says nothing about.
	{name: "imap not configured", q: query{name: "_imap._tcp.qq.com.", qtype: dns.TypeSRV}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "pop3 not configured", q: query{name: "_pop3._tcp.qq.com.", qtype: dns.TypeSRV}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "submission not configured", q: query{name: "_submission._tcp.qq.com.", qtype: dns.TypeSRV}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "no autodiscover url", q: query{name: "_autodiscover._tcp.qq.com.", qtype: dns.TypeSRV}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "no addresses", q: query{name: "autoconfig.qq.com.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "ns1 is not here", q: query{name: "ns1.qq.com.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "ent", q: query{name: "_tcp.qq.com.", qtype: dns.TypeSRV}, aa: true, ns: negQQ},
	{name: "nxdomain", q: query{name: "nope.qq.com.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negQQ},
	{name: "version not configured", q: query{name: "version.bind.", qtype: dns.TypeTXT, class: dns.ClassCHAOS}, rcode: dns.RcodeRefused, general: true},
	{name: "id not configured", q: query{name: "id.server.", qtype: dns.TypeTXT, class: dns.ClassCHAOS}, rcode: dns.RcodeRefused, general: true},
}

// testCases run against testdata/test.yaml.
var testCases = []tcase{
	// STARTTLS, plain and not-offered services (RFC 6186 §3.4: "0 0 0 ." alone).
	{name: "starttls", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."},
	{name: "plain", q: query{name: "_pop3._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_pop3._tcp.example.org. 7200 IN SRV 10 5 110 mail.example.org."},
	{name: "not offered imaps", q: query{name: "_imaps._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imaps._tcp.example.org. 7200 IN SRV 0 0 0 ."},
	{name: "not offered pop3s", q: query{name: "_pop3s._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_pop3s._tcp.example.org. 7200 IN SRV 0 0 0 ."},
	{name: "not offered submissions", q: query{name: "_submissions._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_submissions._tcp.example.org. 7200 IN SRV 0 0 0 ."},
	{name: "submission with in-zone target", q: query{name: "_submission._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_submission._tcp.example.org. 7200 IN SRV 0 5 587 mail.example.org.\n_submission._tcp.example.org. 7200 IN SRV 10 5 2525 autoconfig.example.org.",
		extra:  addrAC},
	{name: "alias starttls", q: query{name: "_imap._tcp.example.net.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imap._tcp.example.net. 7200 IN SRV 0 5 143 mail.example.org."},
	{name: "autodiscover", q: query{name: "_autodiscover._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
		answer: "_autodiscover._tcp.example.org. 7200 IN SRV 0 0 443 autodiscover.example.org.", extra: addrAD},
	{name: "autodiscover target in another zone", q: query{name: "_autodiscover._tcp.qq.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_autodiscover._tcp.qq.com. 7200 IN SRV 0 0 443 autodiscover.example.org.", extra: addrAD},
	{name: "qq with weight", q: query{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imaps._tcp.qq.com. 7200 IN SRV 0 5 993 imap.qq.com."},

	// Apex.
	{name: "apex soa", q: query{name: "example.org.", qtype: dns.TypeSOA}, aa: true, answer: soaOrg},
	{name: "apex ns", q: query{name: "example.org.", qtype: dns.TypeNS}, aa: true,
		answer: "example.org. 7200 IN NS ns1.example.org.\nexample.org. 7200 IN NS ns2.example.net."},
	{name: "apex a", q: query{name: "example.org.", qtype: dns.TypeA}, aa: true, ns: negOrg},
	{name: "autoconfig a", q: query{name: "autoconfig.example.org.", qtype: dns.TypeA}, aa: true,
		answer: "autoconfig.example.org. 7200 IN A 192.0.2.53"},
	{name: "autodiscover aaaa", q: query{name: "autodiscover.qq.com.", qtype: dns.TypeAAAA}, aa: true,
		answer: "autodiscover.qq.com. 7200 IN AAAA 2001:db8::53"},

	// Negative answers (RFC 2308 §3, §5) and the empty non-terminal (RFC 8020).
	{name: "nxdomain", q: query{name: "nope.example.org.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negOrg},
	{name: "nxdomain below a name", q: query{name: "x._imap._tcp.example.org.", qtype: dns.TypeSRV}, rcode: dns.RcodeNameError, aa: true, ns: negOrg},
	{name: "nxdomain long name", q: query{name: strings.Repeat("a.", 100) + "example.org.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negOrg},
	{name: "nodata", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeA}, aa: true, ns: negOrg},
	{name: "nodata unusual type", q: query{name: "_imap._tcp.example.org.", qtype: 65000}, aa: true, ns: negOrg},
	{name: "ent", q: query{name: "_tcp.example.org.", qtype: dns.TypeSRV}, aa: true, ns: negOrg},
	{name: "ent any", q: query{name: "_tcp.example.org.", qtype: dns.TypeANY}, aa: true, ns: negOrg},
	{name: "nameserver address", q: query{name: "ns1.example.org.", qtype: dns.TypeA}, aa: true, answer: "ns1.example.org. 7200 IN A 192.0.2.53"},
	// Names at or below the SOA's MNAME and RNAME compress otherwise than the fast
	// path's templates: the general path answers them.
	{name: "nameserver nodata", q: query{name: "ns1.example.org.", qtype: dns.TypeAAAA}, aa: true, ns: negOrg, general: true},
	{name: "below the nameserver", q: query{name: "x.ns1.example.org.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negOrg, general: true},
	{name: "below the SOA mailbox", q: query{name: "x.host\\.master.example.org.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negOrg, general: true},

	// Outside every zone: REFUSED, AA clear.
	{name: "out of zone", q: query{name: "example.com.", qtype: dns.TypeA}, rcode: dns.RcodeRefused},
	{name: "parent of a zone", q: query{name: "org.", qtype: dns.TypeSOA}, rcode: dns.RcodeRefused},
	{name: "root", q: query{name: ".", qtype: dns.TypeNS}, rcode: dns.RcodeRefused},
	{name: "class hs", q: query{name: "example.org.", qtype: dns.TypeSOA, class: dns.ClassHESIOD}, rcode: dns.RcodeRefused, general: true},

	// 0x20: the question comes back as sent.
	{name: "mixed case", q: query{name: "_IMAP._TcP.ExAmPlE.oRg.", qtype: dns.TypeSRV}, aa: true,
		answer: "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."},
	{name: "mixed case nxdomain", q: query{name: "NoPe.ExAmPlE.oRg.", qtype: dns.TypeA}, rcode: dns.RcodeNameError, aa: true, ns: negOrg},
	{name: "mixed case refused", q: query{name: "ExAmPlE.CoM.", qtype: dns.TypeA}, rcode: dns.RcodeRefused},

	// Header bits: RD and CD copied, RA never set.
	{name: "rd clear", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeSRV, noRD: true}, aa: true,
		answer: "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."},
	{name: "cd set", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeSRV, cd: true}, aa: true,
		answer: "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."},

	// EDNS (RFC 6891).
	{name: "edns", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeSRV, edns: true}, aa: true,
		answer: "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."},
	{name: "edns do", q: query{name: "_tcp.example.org.", qtype: dns.TypeSRV, edns: true, do: true}, aa: true, ns: negOrg},
	{name: "edns small buffer", q: query{name: "_imaps._tcp.big.example.", qtype: dns.TypeSRV, edns: true, size: 512}, aa: true,
		answer: bigAnswer(), truncatedOverUDP: true, general: true},
	{name: "edns large buffer", q: query{name: "_imaps._tcp.big.example.", qtype: dns.TypeSRV, edns: true, size: 4096}, aa: true,
		answer: bigAnswer()},
	{name: "no edns, large answer", q: query{name: "_imaps._tcp.big.example.", qtype: dns.TypeSRV}, aa: true,
		answer: bigAnswer(), truncatedOverUDP: true, general: true},
	{name: "edns version 1", q: query{name: "example.org.", qtype: dns.TypeSOA, edns: true, ver: 1}, rcode: dns.RcodeBadVers, general: true},
	{name: "edns unknown option", q: query{name: "example.org.", qtype: dns.TypeSOA, edns: true,
		opts: []dns.EDNS0{&dns.EDNS0_LOCAL{Code: 100, Data: []byte{1, 2, 3}}}}, aa: true, answer: soaOrg},
	{name: "edns cookie not echoed", q: query{name: "example.org.", qtype: dns.TypeSOA, edns: true,
		opts: []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}}, aa: true, answer: soaOrg},
	{name: "nsid", q: query{name: "example.org.", qtype: dns.TypeSOA, edns: true,
		opts: []dns.EDNS0{&dns.EDNS0_NSID{Code: dns.EDNS0NSID}}}, aa: true, answer: soaOrg, nsid: "ns-test-1", general: true},

	// RFC 8482 §4.2: ANY gets one synthesised HINFO.
	{name: "any", q: query{name: "example.org.", qtype: dns.TypeANY}, aa: true, answer: `example.org. 7200 IN HINFO "RFC8482" ""`},
	{name: "any srv owner", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeANY}, aa: true, answer: `_imap._tcp.example.org. 7200 IN HINFO "RFC8482" ""`},
	{name: "any nxdomain", q: query{name: "nope.example.org.", qtype: dns.TypeANY}, rcode: dns.RcodeNameError, aa: true, ns: negOrg},

	// CHAOS (RFC 4892): the configured strings, REFUSED otherwise.
	{name: "version.bind", q: query{name: "version.bind.", qtype: dns.TypeTXT, class: dns.ClassCHAOS}, aa: true,
		answer: `version.bind. 0 CH TXT "mailconf test"`, answerCaseSensitive: true},
	{name: "id.server", q: query{name: "id.server.", qtype: dns.TypeTXT, class: dns.ClassCHAOS}, aa: true,
		answer: `id.server. 0 CH TXT "ns-test-1"`, answerCaseSensitive: true},
	{name: "hostname.bind mixed case", q: query{name: "HOSTNAME.bind.", qtype: dns.TypeTXT, class: dns.ClassCHAOS}, aa: true,
		answer: `hostname.bind. 0 CH TXT "ns-test-1"`},
	{name: "chaos other name", q: query{name: "authors.bind.", qtype: dns.TypeTXT, class: dns.ClassCHAOS}, rcode: dns.RcodeRefused, general: true},
	{name: "chaos other type", q: query{name: "version.bind.", qtype: dns.TypeA, class: dns.ClassCHAOS}, rcode: dns.RcodeRefused, general: true},

	// No zone transfers.
	{name: "axfr", q: query{name: "example.org.", qtype: dns.TypeAXFR}, rcode: dns.RcodeRefused, general: true},
}

// bigAnswer is _imaps._tcp.big.example: 30 records, about 1150 bytes.
func bigAnswer() string {
	var b strings.Builder
	for i := range 30 {
		fmt.Fprintf(&b, "_imaps._tcp.big.example. 7200 IN SRV %d 5 993 imap%02d.big.example.\n", 10*i, i)
	}
	return b.String()
}

func parseRRs(t *testing.T, text string, serial uint32) []dns.RR {
	t.Helper()
	text = strings.ReplaceAll(text, "SERIAL", fmt.Sprint(serial))
	var out []dns.RR
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, rr)
	}
	return out
}

func rrStrings(rrs []dns.RR, caseSensitive bool) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			continue
		}
		s := rr.String()
		if !caseSensitive {
			s = strings.ToLower(s)
		}
		out = append(out, s)
	}
	return out
}

// checkReply compares a reply with the case.
func checkReply(t *testing.T, c tcase, r *dns.Msg, serial uint32, udp bool) {
	t.Helper()
	truncated := udp && c.truncatedOverUDP
	if r.Rcode != c.rcode {
		t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
	}
	if r.Authoritative != c.aa || r.Truncated != truncated || r.RecursionAvailable || r.RecursionDesired != !c.q.noRD ||
		r.CheckingDisabled != c.q.cd || r.AuthenticatedData || r.Zero || !r.Response || r.Opcode != c.q.opcode {
		t.Errorf("flags: aa %v tc %v ra %v rd %v cd %v ad %v z %v qr %v opcode %d; want aa %v tc %v rd %v cd %v",
			r.Authoritative, r.Truncated, r.RecursionAvailable, r.RecursionDesired, r.CheckingDisabled, r.AuthenticatedData, r.Zero, r.Response, r.Opcode,
			c.aa, truncated, !c.q.noRD, c.q.cd)
	}
	if len(r.Question) != 1 || r.Question[0].Name != c.q.name || r.Question[0].Qtype != c.q.qtype {
		t.Errorf("question %v, want %s echoed byte for byte", r.Question, c.q.name)
	}
	answer, ns, extra := c.answer, c.ns, c.extra
	if truncated {
		answer, ns, extra = "", "", "" // RFC 2181 §9: no partial RRset
	}
	for _, sec := range []struct {
		name      string
		got, want []dns.RR
	}{
		{"answer", r.Answer, parseRRs(t, answer, serial)},
		{"authority", r.Ns, parseRRs(t, ns, serial)},
		{"additional", r.Extra, parseRRs(t, extra, serial)},
	} {
		if g, w := rrStrings(sec.got, c.answerCaseSensitive), rrStrings(sec.want, c.answerCaseSensitive); !slices.Equal(g, w) {
			t.Errorf("%s:\n got %q\nwant %q", sec.name, g, w)
		}
	}
	opt := r.IsEdns0()
	switch {
	case !c.q.edns && opt != nil:
		t.Errorf("OPT in the reply to a query without EDNS")
	case c.q.edns && opt == nil:
		t.Errorf("no OPT in the reply to an EDNS query")
	case c.q.edns:
		var wantOpts []string
		if c.nsid != "" {
			wantOpts = []string{fmt.Sprintf("%d:%s", dns.EDNS0NSID, hex.EncodeToString([]byte(c.nsid)))}
		}
		var gotOpts []string
		for _, o := range opt.Option {
			gotOpts = append(gotOpts, fmt.Sprintf("%d:%s", o.Option(), o.String()))
		}
		if opt.Version() != 0 || opt.UDPSize() != ednsUDPSize || opt.Do() != c.q.do || opt.Hdr.Name != "." ||
			!slices.Equal(gotOpts, wantOpts) || opt.Hdr.Ttl&0x7fff != 0 {
			t.Errorf("OPT: version %d size %d do %v flags %#x options %q; want version 0 size %d do %v options %q",
				opt.Version(), opt.UDPSize(), opt.Do(), opt.Hdr.Ttl&0xffff, gotOpts, ednsUDPSize, c.q.do, wantOpts)
		}
	}
}

func TestQueries(t *testing.T) {
	for _, io := range []string{"raw", "xnet"} {
		t.Run(io, func(t *testing.T) {
			forceXNet = io == "xnet"
			defer func() { forceXNet = false }()
			servers := map[string]*Server{
				"qq":   startServer(t, defaultCatalog(t), "127.0.0.1:0", false),
				"test": startServer(t, testCatalog(t), "127.0.0.1:0", false),
			}
			for srvName, cases := range map[string][]tcase{"qq": qqCases, "test": testCases} {
				s := servers[srvName]
				serial := s.answers.Load().zones.Serial()
				for _, c := range cases {
					for _, network := range []string{"udp", "tcp"} {
						t.Run(srvName+"/"+c.name+"/"+network, func(t *testing.T) {
							cl := &dns.Client{Net: network, Timeout: 2 * time.Second}
							r, _, err := cl.Exchange(c.q.msg(dns.Id()), s.Addr())
							if err != nil {
								t.Fatal(err)
							}
							checkReply(t, c, r, serial, network == "udp")
						})
					}
				}
			}
		})
	}
}

// TestFastPathMatchesGeneralPath sends every query of the table to the fast and to
// the general path, in process and over the network (a second server with the fast
// path off), and requires identical bytes.
func TestFastPathMatchesGeneralPath(t *testing.T) {
	for srvName, tc := range map[string]struct {
		cat   *mailconf.Catalog
		cases []tcase
	}{"qq": {defaultCatalog(t), qqCases}, "test": {testCatalog(t), testCases}} {
		fast := startServer(t, tc.cat, "127.0.0.1:0", false)
		general := startServer(t, tc.cat, "127.0.0.1:0", true)
		// Same catalog, same second: the serial may still differ; compare in-process
		// answers from the fast server's own tables, and over the network give the
		// general server the same answers.
		general.answers.Store(fast.answers.Load())
		a := fast.answers.Load()
		for _, c := range tc.cases {
			t.Run(srvName+"/"+c.name, func(t *testing.T) {
				pkt, err := c.q.msg(0x1234).Pack()
				if err != nil {
					t.Fatal(err)
				}
				out := make([]byte, ednsUDPSize)
				n := a.fast.answer(pkt, out, false)
				want := serveOne(t, a, pkt, false)
				switch {
				case n == 0 && !c.general:
					t.Fatalf("the fast path did not answer")
				case n > 0 && c.general:
					t.Fatalf("the fast path answered a query meant for the general path")
				case n > 0 && !bytes.Equal(out[:n], want):
					t.Fatalf("fast path:\n%x\ngeneral path:\n%x", out[:n], want)
				}
				// Over TCP nothing is truncated: the fast path answers what it holds.
				tcpOut := make([]byte, maxTCPSize)
				if n := a.fast.answer(pkt, tcpOut, true); n > 0 && !bytes.Equal(tcpOut[:n], serveOne(t, a, pkt, true)) {
					t.Fatalf("over TCP, fast path:\n%x\ngeneral path:\n%x", tcpOut[:n], serveOne(t, a, pkt, true))
				}
				viaFast, viaGeneral := exchangeUDP(t, fast.Addr(), pkt), exchangeUDP(t, general.Addr(), pkt)
				if !bytes.Equal(viaFast, viaGeneral) || !bytes.Equal(viaFast, want) {
					t.Fatalf("over UDP, fast server:\n%x\ngeneral server:\n%x", viaFast, viaGeneral)
				}
			})
		}
	}
}

// TestFastPathEveryName asks, for catalogs whose zones fall into several shapes (a
// hoster's domains sharing one template, with host names some of them share suffixes
// with; name server addresses; _tcp zones), every owner name for each of its types, a
// type it lacks and ANY, names below it, and the empty non-terminals, with and
// without EDNS, in mixed case: the fast path's answer must be the general path's,
// byte for byte, and every name of a served zone must be answered by it.
func TestFastPathEveryName(t *testing.T) {
	data, err := os.ReadFile("testdata/shapes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	catalogs := map[string][]byte{"shapes": data, "shapes tcp zones": append(slices.Clone(data), "  tcp_zones: true\n"...), "shapes prepared on first use": data}
	for name, data := range catalogs {
		t.Run(name, func(t *testing.T) {
			if name == "shapes prepared on first use" {
				defer func(n int) { parallel.Eager = n }(parallel.Eager)
				parallel.Eager = 0
			}
			cat, err := mailconf.Parse("testdata/shapes.yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			if cat, err = withFileSources(cat); err != nil {
				t.Fatal(err)
			}
			s, err := New(cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			a := s.answers.Load()
			shapes := map[*zone.Shape]bool{}
			asked := 0
			for _, z := range a.zones.Zones() {
				shapes[z.Shape()] = true
				names := []string{z.Apex, "nope." + z.Apex, "a.b.c." + z.Apex}
				types := map[string][]uint16{}
				for _, o := range z.Owners() {
					names = append(names, o.Name, "below."+o.Name)
					types[o.Name] = o.Types
				}
				for ent := range a.zones.EmptyNonTerminals() {
					if dns.IsSubDomain(z.Apex, ent) {
						names = append(names, ent)
					}
				}
				for _, n := range names {
					for _, qt := range append(types[n], dns.TypeANY, dns.TypeSRV, dns.TypeTXT, dns.TypeA, dns.TypeMX) {
						for _, edns := range []bool{false, true} {
							q := query{name: mixCase(n), qtype: qt, edns: edns, do: edns}
							pkt, err := q.msg(0x4242).Pack()
							if err != nil {
								t.Fatal(err)
							}
							asked++
							out := make([]byte, maxTCPSize)
							nb := a.fast.answer(pkt, out, true)
							want := serveOne(t, a, pkt, true)
							if nb == 0 {
								// Only names at or below the SOA's names, inside the zone,
								// compress otherwise than the prepared negative answers.
								soa := z.NegativeSOA()
								if !(dns.IsSubDomain(soa.Ns, n) && dns.IsSubDomain(z.Apex, soa.Ns) || dns.IsSubDomain(soa.Mbox, n) && dns.IsSubDomain(z.Apex, soa.Mbox)) {
									t.Errorf("%s %s: the fast path did not answer", n, dns.TypeToString[qt])
								}
								continue
							}
							if !bytes.Equal(out[:nb], want) {
								got, wantMsg := new(dns.Msg), new(dns.Msg)
								got.Unpack(out[:nb])
								wantMsg.Unpack(want)
								t.Fatalf("%s %s (EDNS %v):\nfast path %x\n%v\ngeneral path %x\n%v", n, dns.TypeToString[qt], edns, out[:nb], got, want, wantMsg)
							}
						}
					}
				}
			}
			if len(shapes) < 4 {
				t.Errorf("%d shapes: the catalog should exercise more", len(shapes))
			}
			t.Logf("%d zones in %d shapes, %d queries", a.zones.Len(), len(shapes), asked)
		})
	}
}

// withFileSources adds the domains of a catalog's file sources, as the server does.
func withFileSources(cat *mailconf.Catalog) (*mailconf.Catalog, error) {
	lists := map[mailconf.Domain][]mailconf.Domain{} // by provider id
	for _, p := range cat.Providers {
		for _, src := range p.DomainsFrom {
			ds, err := sources.Load(context.Background(), p, src)
			if err != nil {
				return nil, err
			}
			lists[p.ID] = append(lists[p.ID], ds...)
		}
	}
	return cat.WithSourcedDomains(lists)
}

// mixCase alternates the letter case of a name, as 0x20 resolvers do.
func mixCase(name string) string {
	b := []byte(name)
	for i := range b {
		if i%2 == 0 && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// exchangeUDP sends a raw datagram and returns the raw reply, nil on timeout.
func exchangeUDP(t *testing.T, addr string, pkt []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 65535)
	n, err := conn.Read(buf)
	if err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() || errors.Is(err, syscall.ECONNREFUSED) {
			return nil
		}
		t.Fatal(err)
	}
	return buf[:n]
}

// exchangeTCP sends raw messages on one connection, all in one write, and reads
// want replies (nil: until the server closes or goes quiet).
func exchangeTCP(t *testing.T, addr string, want int, msgs ...[]byte) [][]byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	if _, err := conn.Write(out); err != nil {
		t.Fatal(err)
	}
	var replies [][]byte
	conn.SetReadDeadline(time.Now().Add(time.Second))
	for len(replies) < want {
		var l [2]byte
		if _, err := io.ReadFull(conn, l[:]); err != nil {
			break
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(conn, b); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, b)
	}
	return replies
}

func TestTruncatedAnswerRetriedOverTCP(t *testing.T) {
	s := startServer(t, testCatalog(t), "127.0.0.1:0", false)
	q := query{name: "_imaps._tcp.big.example.", qtype: dns.TypeSRV}
	udp := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	r, _, err := udp.Exchange(q.msg(dns.Id()), s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Answer) != 0 || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("over UDP: tc %v, %d answers, rcode %d; want TC and no partial RRset", r.Truncated, len(r.Answer), r.Rcode)
	}
	tcp := &dns.Client{Net: "tcp", Timeout: 2 * time.Second}
	r, _, err = tcp.Exchange(q.msg(dns.Id()), s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 30 {
		t.Fatalf("over TCP: tc %v, %d answers; want the 30 records", r.Truncated, len(r.Answer))
	}
	checkReply(t, tcase{q: q, aa: true, answer: bigAnswer()}, r, 0, false)
}

func TestTCPPipelining(t *testing.T) {
	s := startServer(t, defaultCatalog(t), "127.0.0.1:0", false)
	var msgs [][]byte
	names := []query{
		{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV},
		{name: "_pop3s._tcp.qq.com.", qtype: dns.TypeSRV},
		{name: "nope.qq.com.", qtype: dns.TypeA},
	}
	for i, q := range names {
		b, err := q.msg(uint16(100 + i)).Pack()
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, b)
	}
	replies := exchangeTCP(t, s.Addr(), 3, msgs...)
	if len(replies) != 3 {
		t.Fatalf("%d replies on one connection, want 3", len(replies))
	}
	wantRcode := []int{dns.RcodeSuccess, dns.RcodeSuccess, dns.RcodeNameError}
	for i, b := range replies {
		var r dns.Msg
		if err := r.Unpack(b); err != nil {
			t.Fatal(err)
		}
		if r.Id != uint16(100+i) || r.Rcode != wantRcode[i] || r.Question[0].Name != names[i].name {
			t.Errorf("reply %d: id %d rcode %d question %v", i, r.Id, r.Rcode, r.Question)
		}
	}
	// The connection stays open for more (MaxTCPQueries -1).
	more := make([][]byte, 200)
	for i := range more {
		more[i] = msgs[0]
	}
	if got := exchangeTCP(t, s.Addr(), 200, more...); len(got) != 200 {
		t.Errorf("%d of 200 queries answered on one connection", len(got))
	}
}

func TestOpcodes(t *testing.T) {
	s := startServer(t, testCatalog(t), "127.0.0.1:0", false)
	notify := new(dns.Msg)
	notify.SetNotify("example.org.")
	update := new(dns.Msg)
	update.SetUpdate("example.org.")
	update.Insert([]dns.RR{&dns.A{Hdr: dns.RR_Header{Name: "x.example.org.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}})
	opcode15 := new(dns.Msg)
	opcode15.SetQuestion("example.org.", dns.TypeSOA)
	opcode15.Opcode = 15
	opcode15.SetEdns0(1232, false)
	opcode15.AuthenticatedData = true // as dig sends it
	for name, m := range map[string]*dns.Msg{"notify": notify, "update": update, "opcode 15": opcode15} {
		// RFC 1996: this server is only ever a primary; it refuses NOTIFY, as NSD refuses
		// one it does not expect.
		want := dns.RcodeNotImplemented
		if m.Opcode == dns.OpcodeNotify {
			want = dns.RcodeRefused
		}
		for _, network := range []string{"udp", "tcp"} {
			t.Run(name+"/"+network, func(t *testing.T) {
				cl := &dns.Client{Net: network, Timeout: 2 * time.Second}
				r, _, err := cl.Exchange(m, s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				// RFC 8906 §3.1.4: NOTIMP, nothing else but a fresh OPT for an EDNS query.
				wantExtra := 0
				if m.IsEdns0() != nil {
					wantExtra = 1
					if o := r.IsEdns0(); o == nil || o.Version() != 0 || len(o.Option) != 0 {
						t.Errorf("OPT %v", o)
					}
				}
				if r.Rcode != want || r.Opcode != m.Opcode || r.Authoritative || r.AuthenticatedData ||
					len(r.Answer)+len(r.Ns) != 0 || len(r.Extra) != wantExtra {
					t.Errorf("rcode %s opcode %d aa %v ad %v sections %d/%d/%d; want %s, opcode %d, nothing else",
						dns.RcodeToString[r.Rcode], r.Opcode, r.Authoritative, r.AuthenticatedData, len(r.Answer), len(r.Ns), len(r.Extra), dns.RcodeToString[want], m.Opcode)
				}
			})
		}
	}
}

// TestMalformed sends broken messages over raw sockets: each is dropped or answered
// FORMERR, and the server goes on answering.
func TestMalformed(t *testing.T) {
	s := startServer(t, defaultCatalog(t), "127.0.0.1:0", false)
	good, err := query{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}.msg(7).Pack()
	if err != nil {
		t.Fatal(err)
	}
	twoQuestions := new(dns.Msg)
	twoQuestions.Id = 9
	twoQuestions.Question = []dns.Question{{Name: "qq.com.", Qtype: dns.TypeSOA, Qclass: dns.ClassINET}, {Name: "qq.com.", Qtype: dns.TypeNS, Qclass: dns.ClassINET}}
	qd2, err := twoQuestions.Pack()
	if err != nil {
		t.Fatal(err)
	}
	headerOnly := []byte{0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	sections := sectionCases(t)
	for _, c := range append([]struct {
		name      string
		pkt       []byte
		wantRcode int // -1: no reply
	}{
		{"12-byte garbage", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, dns.RcodeFormatError},
		{"12 bytes with QR set", []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 0, 0, 0, 0, 0, 0}, -1},
		{"qdcount 2", qd2, dns.RcodeFormatError},
		{"header only", headerOnly, dns.RcodeFormatError},
		{"qdcount 1 but no question", []byte{0, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}, dns.RcodeFormatError},
		{"question cut short", good[:len(good)-3], dns.RcodeFormatError},
		{"label past the end", append(slices.Clone(good[:12]), 63, 'a'), dns.RcodeFormatError},
		{"compression loop", []byte{0, 11, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1}, dns.RcodeFormatError},
		{"shorter than a header", []byte{1, 2, 3}, -1},
		{"empty", []byte{}, -1},
	}, sections...) {
		t.Run(c.name, func(t *testing.T) {
			check := func(network string, reply []byte) {
				t.Helper()
				if c.wantRcode < 0 {
					if reply != nil {
						t.Errorf("%s: reply %x to a message that must be dropped", network, reply)
					}
					return
				}
				var r dns.Msg
				if reply == nil {
					t.Fatalf("%s: no reply", network)
				}
				if err := r.Unpack(reply); err != nil {
					t.Fatalf("%s: %v", network, err)
				}
				if r.Rcode != c.wantRcode || !r.Response || r.Id != binary.BigEndian.Uint16(c.pkt) || len(r.Answer)+len(r.Ns) != 0 {
					t.Errorf("%s: rcode %s id %d; want %s", network, dns.RcodeToString[r.Rcode], r.Id, dns.RcodeToString[c.wantRcode])
				}
			}
			if len(c.pkt) > 0 {
				check("udp", exchangeUDP(t, s.Addr(), c.pkt))
			}
			var tcpReply []byte
			if rs := exchangeTCP(t, s.Addr(), 1, c.pkt); len(rs) > 0 {
				tcpReply = rs[0]
			}
			if len(c.pkt) >= 12 {
				check("tcp", tcpReply)
			}
			if r := exchangeUDP(t, s.Addr(), good); r == nil {
				t.Fatal("the server stopped answering over UDP")
			}
			if rs := exchangeTCP(t, s.Addr(), 1, good); len(rs) != 1 {
				t.Fatal("the server stopped answering over TCP")
			}
		})
	}
}

// sectionCases are queries with records where a query may carry none, which NSD
// answers FORMERR (query.c, query_process): a record in the answer or the authority
// section, an OPT there, two OPTs, a record other than OPT and TSIG in the additional
// section. An IXFR's SOA in the authority section is allowed (RFC 1995 §3).
func sectionCases(t testing.TB) []struct {
	name      string
	pkt       []byte
	wantRcode int
} {
	a := &dns.A{Hdr: dns.RR_Header{Name: "qq.com.", Rrtype: dns.TypeA, Class: dns.ClassINET}, A: []byte{192, 0, 2, 1}}
	opt := func() *dns.OPT {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		return o
	}
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: "qq.com.", Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: "a.", Mbox: "b.", Serial: 1}
	msg := func(id uint16, qtype uint16, f func(m *dns.Msg)) []byte {
		m := new(dns.Msg)
		m.Id = id
		m.Question = []dns.Question{{Name: "qq.com.", Qtype: qtype, Qclass: dns.ClassINET}}
		f(m)
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []struct {
		name      string
		pkt       []byte
		wantRcode int
	}{
		{"record in the answer section", msg(21, dns.TypeSOA, func(m *dns.Msg) { m.Answer = []dns.RR{a} }), dns.RcodeFormatError},
		{"record in the authority section", msg(22, dns.TypeSOA, func(m *dns.Msg) { m.Ns = []dns.RR{a} }), dns.RcodeFormatError},
		{"OPT in the answer section", msg(23, dns.TypeSOA, func(m *dns.Msg) { m.Answer = []dns.RR{opt()} }), dns.RcodeFormatError},
		{"OPT in the authority section", msg(24, dns.TypeSOA, func(m *dns.Msg) { m.Ns = []dns.RR{opt()} }), dns.RcodeFormatError},
		{"two OPTs", msg(25, dns.TypeSOA, func(m *dns.Msg) { m.Extra = []dns.RR{opt(), opt()} }), dns.RcodeFormatError},
		{"A record in the additional section", msg(26, dns.TypeSOA, func(m *dns.Msg) { m.Extra = []dns.RR{a} }), dns.RcodeFormatError},
		{"records in every section", msg(27, dns.TypeSRV, func(m *dns.Msg) { m.Answer, m.Ns, m.Extra = []dns.RR{a}, []dns.RR{soa}, []dns.RR{opt()} }), dns.RcodeFormatError},
		{"IXFR with its SOA in the authority section", msg(28, dns.TypeIXFR, func(m *dns.Msg) { m.Ns = []dns.RR{soa} }), dns.RcodeRefused},
	}
}

func TestUpdate(t *testing.T) {
	s := startServer(t, defaultCatalog(t), "127.0.0.1:0", false)
	serial := s.answers.Load().zones.Serial()
	ask := func(name string) *dns.Msg {
		t.Helper()
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(query{name: name, qtype: dns.TypeSRV}.msg(dns.Id()), s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The same records: the serial stays.
	if err := s.Update(defaultCatalog(t)); err != nil {
		t.Fatal(err)
	}
	if got := s.answers.Load().zones.Serial(); got != serial {
		t.Errorf("unchanged catalog: serial %d, want %d", got, serial)
	}
	// New records: served at once, with a greater serial.
	if r := ask("_imap._tcp.example.org."); r.Rcode != dns.RcodeRefused {
		t.Fatalf("before the update: rcode %d", r.Rcode)
	}
	if err := s.Update(testCatalog(t)); err != nil {
		t.Fatal(err)
	}
	r := ask("_imap._tcp.example.org.")
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("after the update: rcode %d, %d answers", r.Rcode, len(r.Answer))
	}
	next := s.answers.Load().zones.Serial()
	if !serialGreater(next, serial) {
		t.Errorf("serial %d after a change, not greater than %d", next, serial)
	}
	// A catalog that cannot be published: error, the old zones stay.
	if err := s.Update(&mailconf.Catalog{}); err == nil {
		t.Error("Update accepted a catalog without nameservers")
	}
	if got := s.answers.Load().zones.Serial(); got != next {
		t.Errorf("failed update changed the serial to %d", got)
	}
	if r := ask("_imap._tcp.example.org."); r.Rcode != dns.RcodeSuccess {
		t.Errorf("after a failed update: rcode %d", r.Rcode)
	}
}

func TestNextSerial(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct{ prev, want uint32 }{
		{1_700_000_000, 1_800_000_000}, // the clock is ahead: take it
		{1_800_000_000, 1_800_000_001}, // a second change within the second
		{1_900_000_000, 1_900_000_001}, // ahead of the clock: count on
		{2026010101, 2026010102},       // a YYYYMMDDnn serial is "greater" than the time
		{4_294_967_295, 1_800_000_000}, // RFC 1982 wrap: the time is greater
	} {
		if got := nextSerial(c.prev, now); got != c.want || !serialGreater(got, c.prev) {
			t.Errorf("nextSerial(%d) = %d, want %d", c.prev, got, c.want)
		}
	}
}

// TestWildcardAddress binds the IPv4 and the dual-stack wildcard, where each reply
// must leave from the address the query went to (IP_PKTINFO).
func TestWildcardAddress(t *testing.T) {
	for _, c := range []struct {
		bind string
		xnet bool
	}{{"0.0.0.0:0", false}, {"[::]:0", false}, {"0.0.0.0:0", true}, {"[::]:0", true}} {
		bind := c.bind
		t.Run(fmt.Sprintf("%s/xnet=%v", bind, c.xnet), func(t *testing.T) {
			forceXNet = c.xnet
			defer func() { forceXNet = false }()
			if bind[0] == '[' {
				if l, err := net.ListenPacket("udp", bind); err != nil {
					t.Skipf("no IPv6: %v", err)
				} else {
					l.Close()
				}
			}
			s := startServer(t, defaultCatalog(t), bind, false)
			_, port, _ := net.SplitHostPort(s.Addr())
			if !s.udp[0].pktinfo && pktinfoSupported {
				t.Error("no IP_PKTINFO on a wildcard socket")
			}
			for _, network := range []string{"udp", "tcp"} {
				for range 3 { // reuse the worker's reply slots
					r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(
						query{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}.msg(dns.Id()), net.JoinHostPort("127.0.0.1", port))
					if err != nil {
						t.Fatalf("%s: %v", network, err)
					}
					if len(r.Answer) != 1 {
						t.Errorf("%s: %d answers", network, len(r.Answer))
					}
				}
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	s, err := New(defaultCatalog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Error("second Start succeeded")
	}
	// A TCP connection in the middle of a conversation.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if r := exchangeUDP(t, addr, mustPack(t, query{name: "qq.com.", qtype: dns.TypeSOA})); r != nil {
		t.Error("UDP answered after Shutdown")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("TCP accepted a connection after Shutdown")
	}
}

// loopback is where the in-process queries come from.
var loopback = netip.MustParseAddr("127.0.0.1")

// serveOne answers pkt through the general path, from loopback, and returns the one
// message answered, or nil.
func serveOne(t testing.TB, a *answers, pkt []byte, tcp bool) []byte {
	t.Helper()
	msgs, err := a.serveRaw(pkt, loopback, tcp)
	if err != nil {
		t.Fatal(err)
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return msgs[0]
	}
	t.Fatalf("%d messages answered", len(msgs))
	return nil
}

func mustPack(t testing.TB, q query) []byte {
	t.Helper()
	b, err := q.msg(dns.Id()).Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAmplification measures, for the example configuration, the largest answer to
// the smallest query for every name and type served (with and without EDNS), and
// keeps the worst ratio bounded: apex answers stay minimal (no additional section for
// NS), and response rate limiting covers the rest.
func TestAmplification(t *testing.T) {
	cat, err := mailconf.Load("../deploy/mailconf.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := s.answers.Load()
	worst, worstWhat := 0.0, ""
	var owners []zone.Owner
	for _, z := range a.zones.Zones() {
		owners = append(owners, z.Owners()...)
	}
	for _, n := range owners {
		for _, qt := range append(n.Types, dns.TypeANY, dns.TypeNS, dns.TypeTXT) {
			for _, edns := range []bool{false, true} {
				q := new(dns.Msg)
				q.SetQuestion(n.Name, qt)
				if edns {
					q.SetEdns0(4096, true)
				}
				pkt, err := q.Pack()
				if err != nil {
					t.Fatal(err)
				}
				resp := serveOne(t, a, pkt, false)
				if r := float64(len(resp)) / float64(len(pkt)); r > worst {
					worst, worstWhat = r, fmt.Sprintf("%s %s (EDNS %v): %d bytes for %d", n.Name, dns.TypeToString[qt], edns, len(resp), len(pkt))
				}
			}
		}
	}
	t.Logf("worst amplification for deploy/mailconf.example.yaml: %.1fx, %s", worst, worstWhat)
	if worst > 10 {
		t.Errorf("worst amplification %.1fx: %s", worst, worstWhat)
	}
}
