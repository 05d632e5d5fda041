package zone

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

func testCatalog(t *testing.T) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Load("../testdata/test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func build(t *testing.T, cat *mailconf.Catalog) *Set {
	t.Helper()
	s, err := Build(cat)
	if err != nil {
		t.Fatal(err)
	}
	s.SetSerial(2026010101)
	return s
}

// rrLines parses zone text (one record per line, ; comments) into miekg's
// presentation form.
func rrLines(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, rr.String())
	}
	return out
}

func zoneByApex(t *testing.T, s *Set, apex string) *Zone {
	t.Helper()
	for _, z := range s.Zones() {
		if z.Apex == apex {
			return z
		}
	}
	t.Fatalf("no zone %s", apex)
	return nil
}

func TestBuildGolden(t *testing.T) {
	def, err := mailconf.Default()
	if err != nil {
		t.Fatal(err)
	}
	check := func(s *Set, apex, want string) {
		t.Helper()
		got := rrLines(t, zoneByApex(t, s, apex).Text())
		if w := rrLines(t, want); !slices.Equal(got, w) {
			t.Errorf("zone %s:\ngot\n%s\nwant\n%s", apex, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
	}
	// RFC 6186 §3.4: IMAP preferred, so _imaps 0 and _pop3s 10; no record for the
	// plain services, which the built-in config says nothing about.
	check(build(t, def), "qq.com.", `
qq.com.                  3600 IN SOA ns1.mailconf.invalid. hostmaster.mailconf.invalid. 2026010101 3600 900 1209600 300
qq.com.                  3600 IN NS  ns1.mailconf.invalid.
_imaps._tcp.qq.com.      3600 IN SRV 0 1 993 imap.qq.com.
_pop3s._tcp.qq.com.      3600 IN SRV 10 1 995 pop.qq.com.
_submissions._tcp.qq.com. 3600 IN SRV 0 1 465 smtp.qq.com.
`)
	check(build(t, def), "foxmail.com.", `
foxmail.com.                  3600 IN SOA ns1.mailconf.invalid. hostmaster.mailconf.invalid. 2026010101 3600 900 1209600 300
foxmail.com.                  3600 IN NS  ns1.mailconf.invalid.
_imaps._tcp.foxmail.com.      3600 IN SRV 0 1 993 imap.qq.com.
_pop3s._tcp.foxmail.com.      3600 IN SRV 10 1 995 pop.qq.com.
_submissions._tcp.foxmail.com. 3600 IN SRV 0 1 465 smtp.qq.com.
`)
	test := build(t, testCatalog(t))
	check(test, "example.org.", `
example.org.                   7200 IN SOA  ns1.example.org. host\.master.example.org. 2026010101 3600 900 1209600 600
example.org.                   7200 IN NS   ns1.example.org.
example.org.                   7200 IN NS   ns2.example.net.
_autodiscover._tcp.example.org. 7200 IN SRV 0 0 443 autodiscover.example.org.
_imap._tcp.example.org.        7200 IN SRV  0 5 143 mail.example.org.
_imaps._tcp.example.org.       7200 IN SRV  0 0 0 .
_pop3._tcp.example.org.        7200 IN SRV  10 5 110 mail.example.org.
_pop3s._tcp.example.org.       7200 IN SRV  0 0 0 .
_submission._tcp.example.org.  7200 IN SRV  0 5 587 mail.example.org.
_submission._tcp.example.org.  7200 IN SRV  10 5 2525 autoconfig.example.org.
_submissions._tcp.example.org. 7200 IN SRV  0 0 0 .
autoconfig.example.org.        7200 IN A    192.0.2.53
autoconfig.example.org.        7200 IN AAAA 2001:db8::53
autodiscover.example.org.      7200 IN A    192.0.2.53
autodiscover.example.org.      7200 IN AAAA 2001:db8::53
ns1.example.org.               7200 IN A    192.0.2.53
`)
	// The alias gets the same records under its own name.
	check(test, "example.net.", `
example.net.                   7200 IN SOA  ns1.example.org. host\.master.example.org. 2026010101 3600 900 1209600 600
example.net.                   7200 IN NS   ns1.example.org.
example.net.                   7200 IN NS   ns2.example.net.
_autodiscover._tcp.example.net. 7200 IN SRV 0 0 443 autodiscover.example.org.
_imap._tcp.example.net.        7200 IN SRV  0 5 143 mail.example.org.
_imaps._tcp.example.net.       7200 IN SRV  0 0 0 .
_pop3._tcp.example.net.        7200 IN SRV  10 5 110 mail.example.org.
_pop3s._tcp.example.net.       7200 IN SRV  0 0 0 .
_submission._tcp.example.net.  7200 IN SRV  0 5 587 mail.example.org.
_submission._tcp.example.net.  7200 IN SRV  10 5 2525 autoconfig.example.org.
_submissions._tcp.example.net. 7200 IN SRV  0 0 0 .
autoconfig.example.net.        7200 IN A    192.0.2.53
autoconfig.example.net.        7200 IN AAAA 2001:db8::53
autodiscover.example.net.      7200 IN A    192.0.2.53
autodiscover.example.net.      7200 IN AAAA 2001:db8::53
ns2.example.net.               7200 IN A    192.0.2.54
ns2.example.net.               7200 IN AAAA 2001:db8::54
`)
}

func TestLookup(t *testing.T) {
	s := build(t, testCatalog(t))
	check := func(name string, qtype uint16, wantRcode int, wantZone string, answer, ns, extra string) {
		t.Helper()
		r := s.Lookup(name, qtype)
		z := ""
		if r.Zone != nil {
			z = r.Zone.Apex
		}
		str := func(rrs []dns.RR) []string {
			var out []string
			for _, rr := range rrs {
				out = append(out, rr.String())
			}
			return out
		}
		if r.Rcode != wantRcode || z != wantZone ||
			!slices.Equal(str(r.Answer), rrLines(t, answer)) || !slices.Equal(str(r.Ns), rrLines(t, ns)) || !slices.Equal(str(r.Extra), rrLines(t, extra)) {
			t.Errorf("%s %s: got rcode %d zone %q\nanswer %q\nns %q\nextra %q", name, dns.TypeToString[qtype], r.Rcode, z, str(r.Answer), str(r.Ns), str(r.Extra))
		}
	}
	const negOrg = "example.org. 600 IN SOA ns1.example.org. host\\.master.example.org. 2026010101 3600 900 1209600 600"
	// In-zone SRV targets bring their addresses (RFC 2782).
	check("_submission._tcp.example.org.", dns.TypeSRV, dns.RcodeSuccess, "example.org.",
		"_submission._tcp.example.org. 7200 IN SRV 0 5 587 mail.example.org.\n_submission._tcp.example.org. 7200 IN SRV 10 5 2525 autoconfig.example.org.",
		"", "autoconfig.example.org. 7200 IN A 192.0.2.53\nautoconfig.example.org. 7200 IN AAAA 2001:db8::53")
	check("_autodiscover._tcp.qq.com.", dns.TypeSRV, dns.RcodeSuccess, "qq.com.",
		"_autodiscover._tcp.qq.com. 7200 IN SRV 0 0 443 autodiscover.example.org.", "",
		"autodiscover.example.org. 7200 IN A 192.0.2.53\nautodiscover.example.org. 7200 IN AAAA 2001:db8::53")
	// RFC 2308 §5: negative answers carry the SOA with TTL min(TTL, MINIMUM).
	check("_tcp.example.org.", dns.TypeSRV, dns.RcodeSuccess, "example.org.", "", negOrg, "")
	check("nope.example.org.", dns.TypeA, dns.RcodeNameError, "example.org.", "", negOrg, "")
	check("x._imap._tcp.example.org.", dns.TypeSRV, dns.RcodeNameError, "example.org.", "", negOrg, "")
	check("_imap._tcp.example.org.", dns.TypeA, dns.RcodeSuccess, "example.org.", "", negOrg, "")
	check("example.org.", dns.TypeANY, dns.RcodeSuccess, "example.org.", `example.org. 7200 IN HINFO "RFC8482" ""`, "", "")
	check("_tcp.example.org.", dns.TypeANY, dns.RcodeSuccess, "example.org.", "", negOrg, "")
	check("example.com.", dns.TypeA, dns.RcodeRefused, "", "", "", "")
	check("org.", dns.TypeSOA, dns.RcodeRefused, "", "", "", "")
	check(".", dns.TypeNS, dns.RcodeRefused, "", "", "", "")
}

func TestEmptyNonTerminals(t *testing.T) {
	s := build(t, testCatalog(t))
	var got []string
	for n := range s.EmptyNonTerminals() {
		got = append(got, n)
	}
	slices.Sort(got)
	want := []string{"_tcp.big.example.", "_tcp.example.net.", "_tcp.example.org.", "_tcp.foxmail.com.", "_tcp.qq.com."}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestNestedZones(t *testing.T) {
	cat, err := mailconf.Parse("nested.yaml", []byte(`
providers:
  - id: example.org
    display_name: Outer
    domains: [example.org]
    incoming: [{type: imap, hostname: imap.example.org, port: 993, socket: SSL}]
    outgoing: [{type: smtp, hostname: smtp.example.org, port: 465, socket: SSL}]
  - id: autoconfig.example.org
    display_name: Inner
    domains: [sub.example.org]
    incoming: [{type: imap, hostname: imap.example.org, port: 993, socket: SSL}]
    outgoing: [{type: smtp, hostname: smtp.example.org, port: 465, socket: SSL}]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := build(t, cat)
	if r := s.Lookup("_imaps._tcp.sub.example.org.", dns.TypeSRV); r.Zone == nil || r.Zone.Apex != "sub.example.org." || len(r.Answer) != 1 {
		t.Errorf("inner SRV: %+v", r)
	}
	if r := s.Lookup("_tcp.sub.example.org.", dns.TypeSRV); r.Rcode != dns.RcodeSuccess || r.Zone.Apex != "sub.example.org." {
		t.Errorf("inner ENT: %+v", r)
	}
	if r := s.Lookup("nope.sub.example.org.", dns.TypeA); r.Rcode != dns.RcodeNameError || r.Zone.Apex != "sub.example.org." {
		t.Errorf("inner NXDOMAIN: %+v", r)
	}
}

func TestMailboxName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"hostmaster@example.net", "hostmaster.example.net."},
		{"host.master@example.net", `host\.master.example.net.`},
		{"a$b@example.net", `a\$b.example.net.`},
	} {
		a, err := mailconf.ParseAddress(c.in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := MailboxName(a)
		if err != nil || got != c.want {
			t.Errorf("MailboxName(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
		// The escaped name packs to a first label equal to the local part.
		buf := make([]byte, 256)
		n, err := dns.PackDomainName(got, buf, 0, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		local := c.in[:strings.IndexByte(c.in, '@')]
		if l := int(buf[0]); l != len(local) || string(buf[1:1+l]) != local || n == 0 {
			t.Errorf("%q packs to first label %q", got, buf[1:1+l])
		}
	}
	// A 64-byte local part is a valid address but too long for one DNS label (63).
	long, err := mailconf.ParseAddress(strings.Repeat("a", 64) + "@example.net")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MailboxName(long); err == nil {
		t.Error("a mailbox too long for a domain name was accepted")
	}
}

// TestSerials: a zone keeps its serial while its records stay the same, and gets the
// next one when they change; only the changed zones are reported.
func TestSerials(t *testing.T) {
	first := build(t, testCatalog(t))
	same, err := Build(testCatalog(t))
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	same.SetSerials(first, func(old uint32) uint32 { calls++; return old + 1 })
	if calls != 0 || same.Serial() != first.Serial() || len(same.Changed(first)) != 0 {
		t.Errorf("same records: %d new serials, serial %d, changed %d", calls, same.Serial(), len(same.Changed(first)))
	}
	changed, err := mailconf.Parse("../testdata/test.yaml", []byte(strings.Replace(readFile(t, "../testdata/test.yaml"), "port: 993", "port: 9993", 1)))
	if err != nil {
		t.Fatal(err)
	}
	next, err := Build(changed)
	if err != nil {
		t.Fatal(err)
	}
	next.SetSerials(first, func(old uint32) uint32 { return old + 1 })
	var apexes []string
	for _, z := range next.Changed(first) {
		apexes = append(apexes, z.Apex)
		if z.Serial() != first.Zone(z.Apex).Serial()+1 {
			t.Errorf("%s: serial %d", z.Apex, z.Serial())
		}
	}
	if len(apexes) == 0 || len(apexes) == next.Len() {
		t.Errorf("changed zones %v of %d: want those of the changed provider only", apexes, next.Len())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNameserverAddresses checks that a nameserver named inside a served zone gets its
// addresses there (by default: this server's), and that the NS answer stays minimal:
// no additional section (docs/dns.md, amplification).
func TestNameserverAddresses(t *testing.T) {
	for _, tc := range []struct{ name, yaml string }{
		{"default", "providers: [{builtin: qq.com}]\ndns: {addresses: [192.0.2.1, '2001:db8::1']}\n"},
		{"explicit", "providers: [{builtin: qq.com}]\ndns:\n  nameservers: [ns1.qq.com, ns.elsewhere.example]\n  nameserver_addresses: {ns1.qq.com: [192.0.2.1, '2001:db8::1']}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat, err := mailconf.Parse(tc.name, []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			s := build(t, cat)
			a := s.Lookup("ns1.qq.com.", dns.TypeA)
			if a.Rcode != dns.RcodeSuccess || len(a.Answer) != 1 || a.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
				t.Fatalf("ns1.qq.com A: %+v", a)
			}
			ns := s.Lookup("qq.com.", dns.TypeNS)
			var extra []string
			for _, rr := range ns.Extra {
				extra = append(extra, rr.String())
			}
			if len(ns.Answer) != len(cat.DNS.Nameservers) || len(extra) != 0 {
				t.Fatalf("NS answer %v, additional section %v", ns.Answer, extra)
			}
		})
	}
}

// TestTCPZones builds every domain's zone at _tcp.<d>: SOA and NS there, every SRV
// owner inside, negative answers with that zone's SOA, and nothing published outside
// (autoconfig.<d> and autodiscover.<d> belong to the zone <d>, hosted elsewhere).
func TestTCPZones(t *testing.T) {
	cat, err := mailconf.Parse("tcp.yaml", []byte(`
providers: [{builtin: qq.com}]
dns:
  tcp_zones: true
  addresses: [192.0.2.1]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := build(t, cat)
	var apexes []string
	for _, z := range s.Zones() {
		apexes = append(apexes, z.Apex)
	}
	if want := []string{"_tcp.foxmail.com.", "_tcp.qq.com."}; !slices.Equal(apexes, want) {
		t.Fatalf("zones %q, want %q", apexes, want)
	}
	got := rrLines(t, zoneByApex(t, s, "_tcp.qq.com.").Text())
	want := rrLines(t, `
_tcp.qq.com.              3600 IN SOA ns1.qq.com. hostmaster.qq.com. 2026010101 3600 900 1209600 300
_tcp.qq.com.              3600 IN NS  ns1.qq.com.
_imaps._tcp.qq.com.       3600 IN SRV 0 1 993 imap.qq.com.
_pop3s._tcp.qq.com.       3600 IN SRV 10 1 995 pop.qq.com.
_submissions._tcp.qq.com. 3600 IN SRV 0 1 465 smtp.qq.com.
`)
	if !slices.Equal(got, want) {
		t.Errorf("zone _tcp.qq.com.:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	const neg = "_tcp.qq.com. 300 IN SOA ns1.qq.com. hostmaster.qq.com. 2026010101 3600 900 1209600 300"
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int
		zone  string
		ns    string
	}{
		{"_imaps._tcp.qq.com.", dns.TypeSRV, dns.RcodeSuccess, "_tcp.qq.com.", ""},
		{"_tcp.qq.com.", dns.TypeSOA, dns.RcodeSuccess, "_tcp.qq.com.", ""},
		{"_tcp.qq.com.", dns.TypeSRV, dns.RcodeSuccess, "_tcp.qq.com.", neg},
		{"_imap._tcp.qq.com.", dns.TypeSRV, dns.RcodeNameError, "_tcp.qq.com.", neg},
		{"_imaps._tcp.qq.com.", dns.TypeA, dns.RcodeSuccess, "_tcp.qq.com.", neg},
		{"qq.com.", dns.TypeSOA, dns.RcodeRefused, "", ""},
		{"autoconfig.qq.com.", dns.TypeA, dns.RcodeRefused, "", ""},
		{"_udp.qq.com.", dns.TypeSRV, dns.RcodeRefused, "", ""},
	} {
		r := s.Lookup(c.name, c.qtype)
		z, ns := "", ""
		if r.Zone != nil {
			z = r.Zone.Apex
		}
		if len(r.Ns) == 1 {
			ns = r.Ns[0].String()
		}
		wantNS := ""
		if c.ns != "" {
			wantNS = rrLines(t, c.ns)[0]
		}
		if r.Rcode != c.rcode || z != c.zone || ns != wantNS {
			t.Errorf("%s %s: rcode %d zone %q ns %q; want %d %q %q", c.name, dns.TypeToString[c.qtype], r.Rcode, z, ns, c.rcode, c.zone, wantNS)
		}
	}
	if len(s.EmptyNonTerminals()) != 0 {
		t.Errorf("empty non-terminals %v: _tcp.<d> is an apex now", s.EmptyNonTerminals())
	}
}

// shapesCatalog loads the shapes test catalog with its file source read.
func shapesCatalog(t *testing.T, tcp bool) *mailconf.Catalog {
	t.Helper()
	data := readFile(t, "../testdata/shapes.yaml")
	if tcp {
		data += "  tcp_zones: true\n"
	}
	cat, err := mailconf.Parse("../testdata/shapes.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	var ds []mailconf.Domain
	for _, line := range strings.Split(readFile(t, "../testdata/shapes-domains.txt"), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			ds = append(ds, mustDomain(t, line))
		}
	}
	cat, err = cat.WithSourcedDomains(map[mailconf.Domain][]mailconf.Domain{mustDomain(t, "hoster.example"): ds})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func mustDomain(t *testing.T, s string) mailconf.Domain {
	t.Helper()
	d, err := mailconf.ParseDomain(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestShapes: zones of one provider share a shape when their domains end alike with
// respect to the names the records hold; a zone that holds such a name, or name
// server addresses, has a shape of its own.
func TestShapes(t *testing.T) {
	s := build(t, shapesCatalog(t, false))
	same := [][]string{
		{"a.com.", "b.com.", "customer.com.", "mail.qq.com."}, // share com. with dav.hoster.com
		{"shop.net.", "x.net."},                               // net. with pop.hoster.net and ns2.dns.net
		{"y.org.", "deep.sub.customer.org."},                  // nothing
	}
	seen := map[*Shape]bool{}
	for _, group := range same {
		sh := s.Zone(group[0]).Shape()
		if sh.Own || seen[sh] {
			t.Errorf("%s: shape %+v shared with another group", group[0], sh)
		}
		seen[sh] = true
		for _, apex := range group[1:] {
			if s.Zone(apex).Shape() != sh {
				t.Errorf("%s and %s have different shapes", group[0], apex)
			}
		}
		if ref := sh.Reference(); s.Zone(ref.Apex) != nil || !strings.HasSuffix(ref.Apex, sh.Shared) {
			t.Errorf("reference apex %s for shared suffix %q", ref.Apex, sh.Shared)
		}
	}
	for _, apex := range []string{"hoster.example.", "hoster.net.", "qq.com."} {
		if sh := s.Zone(apex).Shape(); !sh.Own || sh.Reference() != s.Zone(apex) {
			t.Errorf("%s: shape %+v, want its own", apex, sh)
		}
	}
	if sh := s.Zone("under.hoster.example.").Shape(); sh.Own || sh.Shared != "hoster.example." {
		t.Errorf("under.hoster.example: shape %+v", sh)
	}
}

// TestServiceRecords: a provider's calendars, contacts and MTA-STS policy are
// published (RFC 6764 §3, §4; RFC 8461 §3.1; RFC 8460 §3), per-domain host names are
// filled in, and with _tcp zones only what lies under _tcp.<d> is.
func TestServiceRecords(t *testing.T) {
	check := func(s *Set, apex, want string) {
		t.Helper()
		got := rrLines(t, s.Zone(apex).Text())
		if w := rrLines(t, want); !slices.Equal(got, w) {
			t.Errorf("zone %s:\ngot\n%s\nwant\n%s", apex, strings.Join(got, "\n"), strings.Join(w, "\n"))
		}
	}
	check(build(t, shapesCatalog(t, false)), "a.com.", `
a.com.                    3600 IN SOA  ns1.hoster.example. hostmaster.hoster.example. 2026010101 3600 900 1209600 300
a.com.                    3600 IN NS   ns1.hoster.example.
a.com.                    3600 IN NS   ns2.dns.net.
_mta-sts.a.com.           3600 IN TXT  "v=STSv1; id=E2ATUPSQOQCWAYUWQIOKNY37L3TO2EVU"
_autodiscover._tcp.a.com. 3600 IN SRV  0 0 443 autodiscover.hoster.example.
_caldav._tcp.a.com.       3600 IN SRV  0 0 0 .
_caldavs._tcp.a.com.      3600 IN TXT  "path=/dav/"
_caldavs._tcp.a.com.      3600 IN SRV  0 1 443 dav.hoster.net.
_carddav._tcp.a.com.      3600 IN TXT  "path=/card/"
_carddav._tcp.a.com.      3600 IN SRV  0 1 8080 dav.hoster.com.
_carddavs._tcp.a.com.     3600 IN SRV  0 0 0 .
_imaps._tcp.a.com.        3600 IN SRV  0 1 993 imap.a.com.
_pop3s._tcp.a.com.        3600 IN SRV  10 1 995 pop.hoster.net.
_submission._tcp.a.com.   3600 IN SRV  10 1 587 smtp.hoster.net.
_submissions._tcp.a.com.  3600 IN SRV  0 1 465 a.com.
_smtp._tls.a.com.         3600 IN TXT  "v=TLSRPTv1; rua=mailto:tlsrpt@hoster.example"
autoconfig.a.com.         3600 IN A    192.0.2.53
autoconfig.a.com.         3600 IN AAAA 2001:db8::53
autodiscover.a.com.       3600 IN A    192.0.2.53
autodiscover.a.com.       3600 IN AAAA 2001:db8::53
mta-sts.a.com.            3600 IN A    192.0.2.53
mta-sts.a.com.            3600 IN AAAA 2001:db8::53
`)
	check(build(t, shapesCatalog(t, true)), "_tcp.a.com.", `
_tcp.a.com.               3600 IN SOA  ns1.hoster.example. hostmaster.hoster.example. 2026010101 3600 900 1209600 300
_tcp.a.com.               3600 IN NS   ns1.hoster.example.
_tcp.a.com.               3600 IN NS   ns2.dns.net.
_autodiscover._tcp.a.com. 3600 IN SRV  0 0 443 autodiscover.hoster.example.
_caldav._tcp.a.com.       3600 IN SRV  0 0 0 .
_caldavs._tcp.a.com.      3600 IN TXT  "path=/dav/"
_caldavs._tcp.a.com.      3600 IN SRV  0 1 443 dav.hoster.net.
_carddav._tcp.a.com.      3600 IN TXT  "path=/card/"
_carddav._tcp.a.com.      3600 IN SRV  0 1 8080 dav.hoster.com.
_carddavs._tcp.a.com.     3600 IN SRV  0 0 0 .
_imaps._tcp.a.com.        3600 IN SRV  0 1 993 imap.a.com.
_pop3s._tcp.a.com.        3600 IN SRV  10 1 995 pop.hoster.net.
_submission._tcp.a.com.   3600 IN SRV  10 1 587 smtp.hoster.net.
_submissions._tcp.a.com.  3600 IN SRV  0 1 465 a.com.
`)
	// The policy's id is the one the policy file has.
	cat := shapesCatalog(t, false)
	p, _ := cat.Lookup(mustDomain(t, "a.com"))
	if !strings.Contains(answerText(build(t, cat).Lookup("_mta-sts.a.com.", dns.TypeTXT)), p.MTASTS.ID()) {
		t.Error("the _mta-sts record does not carry the policy's id")
	}
}

func answerText(r Result) string {
	var b strings.Builder
	for _, rr := range r.Answer {
		b.WriteString(rr.String())
	}
	return b.String()
}
