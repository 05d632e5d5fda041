package dnssrv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// testKey is a key of testdata/test.yaml as miekg/dns takes it: name and base64 secret.
type testKey struct{ name, alg, secret string }

func testKeys(t testing.TB, cat *mailconf.Catalog) []testKey {
	t.Helper()
	var keys []testKey
	for _, k := range cat.DNS.Transfer.Keys {
		keys = append(keys, testKey{k.Name.FQDN(), string(k.Algorithm) + ".", base64.StdEncoding.EncodeToString(k.Secret)})
	}
	if len(keys) == 0 {
		t.Fatal("testdata/test.yaml has no transfer keys")
	}
	return keys
}

// signed packs m signed with k by miekg/dns, at time now.
func signed(t testing.TB, m *dns.Msg, k testKey, now time.Time) []byte {
	t.Helper()
	m.SetTsig(k.name, k.alg, 300, now.Unix())
	b, _, err := dns.TsigGenerate(m, k.secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// transferSeeds are transfer, NOTIFY and signed messages for the fuzz corpus, signed
// now with the keys of testdata/test.yaml, and with wrong ones.
func transferSeeds(t testing.TB) [][]byte {
	keys := testKeys(t, testCatalog(t))
	now := time.Now()
	axfr := func() *dns.Msg { m := new(dns.Msg); m.SetAxfr("example.org."); return m }
	ixfr := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetIxfr("qq.com.", 1, "ns1.qq.com.", "hostmaster.qq.com.")
		return m
	}
	notify := func() *dns.Msg { m := new(dns.Msg); m.SetNotify("example.org."); return m }
	soa := func() *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion("example.org.", dns.TypeSOA)
		m.SetEdns0(1232, false)
		return m
	}
	srv := func() *dns.Msg { m := new(dns.Msg); m.SetQuestion("_imaps._tcp.big.example.", dns.TypeSRV); return m }
	wrongSecret := testKey{keys[0].name, keys[0].alg, base64.StdEncoding.EncodeToString([]byte("not the secret, but 32 bytes ok!"))}
	unknown := testKey{"other-key.", keys[0].alg, keys[0].secret}
	var out [][]byte
	for _, m := range []*dns.Msg{axfr(), ixfr(), notify()} {
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for _, mk := range []func() *dns.Msg{axfr, ixfr, notify, soa, srv} {
		for _, k := range append(keys, wrongSecret, unknown) {
			out = append(out, signed(t, mk(), k, now))
		}
		out = append(out, signed(t, mk(), keys[0], now.Add(-time.Hour))) // BADTIME
	}
	// Names as long as names get (255 octets on the wire) in the question and as the
	// key name: the NOTAUTH answer repeats both, and over UDP must still fit 512 bytes.
	longName := func(c string) string {
		return strings.Repeat(strings.Repeat(c, 63)+".", 3) + strings.Repeat(c, 61) + "."
	}
	long := new(dns.Msg)
	long.SetQuestion(longName("a"), dns.TypeSRV)
	out = append(out, signed(t, long, testKey{longName("k"), keys[0].alg, keys[0].secret}, now))
	return out
}

// xfrClient returns a TCP client that sends from the loopback address src.
func xfrClient(src string) *dns.Client {
	return &dns.Client{Net: "tcp", Timeout: 2 * time.Second,
		Dialer: &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}}
}

// axfr transfers zone with miekg/dns's client, which checks the TSIG of every message
// (RFC 8945 §5.3.1), and returns the records and the number of messages.
func axfr(t *testing.T, addr, zone string, k testKey, ixfrSerial uint32) ([]dns.RR, int, error) {
	t.Helper()
	m := new(dns.Msg)
	if ixfrSerial > 0 {
		m.SetIxfr(zone, ixfrSerial, "ns.", "mbox.")
	} else {
		m.SetAxfr(zone)
	}
	tr := &dns.Transfer{}
	if k.name != "" {
		m.SetTsig(k.name, k.alg, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{k.name: k.secret}
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, 0, err
	}
	var rrs []dns.RR
	n := 0
	for env := range ch {
		if env.Error != nil {
			return nil, n, env.Error
		}
		n++
		rrs = append(rrs, env.RR...)
	}
	return rrs, n, nil
}

// TestTransfer transfers every zone of the test catalog as a secondary does, with
// each key, and compares the records with the zone; then the refusals: no key,
// outside allow, over UDP, not a zone.
func TestTransfer(t *testing.T) {
	cat := testCatalog(t)
	keys := testKeys(t, cat)
	s := startServer(t, cat, "127.0.0.1:0", false)
	a := s.answers.Load()
	for _, z := range a.zones.Zones() {
		for _, k := range keys {
			rrs, _, err := axfr(t, s.Addr(), z.Apex, k, 0)
			if err != nil {
				t.Fatalf("AXFR %s with %s: %v", z.Apex, k.name, err)
			}
			want := append(z.Records(), z.SOA())
			if g, w := rrStrings(rrs, true), rrStrings(want, true); !slices.Equal(g, w) {
				t.Errorf("AXFR %s:\n got %q\nwant %q", z.Apex, g, w)
			}
		}
	}
	if got := s.stats.events[xfrOK].Load(); got != uint64(2*len(a.zones.Zones())) {
		t.Errorf("%d transfers counted, want %d", got, 2*len(a.zones.Zones()))
	}

	// A zone in many messages: every one signed, every one verified by the client.
	small := *a
	small.xfrChunk = 100
	s.answers.Store(&small)
	rrs, n, err := axfr(t, s.Addr(), "big.example.", keys[0], 0)
	if err != nil || n < 10 || len(rrs) != len(a.zones.Zone("big.example.").Records())+1 {
		t.Errorf("AXFR in small messages: %d records in %d messages, %v", len(rrs), n, err)
	}
	s.answers.Store(a)

	// IXFR (RFC 1995): current serial, the SOA alone; an older one, the whole zone.
	serial := a.zones.Serial()
	rrs, _, err = axfr(t, s.Addr(), "qq.com.", keys[0], serial)
	if err != nil || len(rrs) != 1 || rrs[0].(*dns.SOA).Serial != serial {
		t.Errorf("IXFR from the current serial: %v, %v", rrs, err)
	}
	rrs, _, err = axfr(t, s.Addr(), "qq.com.", keys[0], serial-10)
	if err != nil || len(rrs) != len(a.zones.Zone("qq.com.").Records())+1 {
		t.Errorf("IXFR from an older serial: %d records, %v", len(rrs), err)
	}
	// Over UDP, an IXFR gets the SOA alone: ask again over TCP (RFC 1995 §2).
	m := new(dns.Msg)
	m.SetIxfr("qq.com.", serial-10, "ns.", "mbox.")
	m.SetTsig(keys[0].name, keys[0].alg, 300, time.Now().Unix())
	r, _, err := (&dns.Client{Net: "udp", TsigSecret: map[string]string{keys[0].name: keys[0].secret}}).Exchange(m, s.Addr())
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.IsTsig() == nil {
		t.Errorf("IXFR over UDP: %v, %v", r, err)
	}

	refused := s.stats.events[xfrRefused].Load()
	for _, c := range []struct {
		name, src, zone string
		key             testKey
		udp             bool
	}{
		{"no key", "127.0.0.1", "qq.com.", testKey{}, false},
		{"outside allow", "127.0.0.2", "qq.com.", keys[0], false},
		{"over UDP", "127.0.0.1", "qq.com.", keys[0], true},
		{"not an apex", "127.0.0.1", "_tcp.qq.com.", keys[0], false},
		{"not a zone", "127.0.0.1", "example.com.", keys[0], false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := new(dns.Msg)
			m.SetAxfr(c.zone)
			cl := xfrClient(c.src)
			if c.udp {
				cl = &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			}
			if c.key.name != "" {
				m.SetTsig(c.key.name, c.key.alg, 300, time.Now().Unix())
				cl.TsigSecret = map[string]string{c.key.name: c.key.secret}
			}
			r, _, err := cl.Exchange(m, s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 || r.Authoritative {
				t.Errorf("rcode %s, %d answers, aa %v; want REFUSED", dns.RcodeToString[r.Rcode], len(r.Answer), r.Authoritative)
			}
			if (c.key.name != "") != (r.IsTsig() != nil) {
				t.Errorf("signed request %v, signed answer %v", c.key.name != "", r.IsTsig() != nil)
			}
		})
	}
	if got := s.stats.events[xfrRefused].Load() - refused; got != 5 {
		t.Errorf("%d refusals counted, want 5", got)
	}
}

// TestTSIGErrors sends requests signed with an unknown key, a wrong secret and an old
// time, for a transfer and a query: NOTAUTH with BADKEY and BADSIG unsigned, BADTIME
// signed with the server's time (RFC 8945 §5.2, §5.3.2).
func TestTSIGErrors(t *testing.T) {
	cat := testCatalog(t)
	k := testKeys(t, cat)[0]
	s := startServer(t, cat, "127.0.0.1:0", false)
	for _, c := range []struct {
		name    string
		key     testKey
		at      time.Time
		tsigErr uint16
	}{
		{"unknown key", testKey{"other-key.", k.alg, k.secret}, time.Now(), dns.RcodeBadKey},
		{"wrong algorithm", testKey{k.name, dns.HmacSHA512, k.secret}, time.Now(), dns.RcodeBadKey},
		{"wrong secret", testKey{k.name, k.alg, base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}, time.Now(), dns.RcodeBadSig},
		{"an hour ago", k, time.Now().Add(-time.Hour), dns.RcodeBadTime},
	} {
		for _, qtype := range []uint16{dns.TypeAXFR, dns.TypeSOA} {
			t.Run(c.name+"/"+dns.TypeToString[qtype], func(t *testing.T) {
				m := new(dns.Msg)
				m.SetQuestion("qq.com.", qtype)
				req := signed(t, m, c.key, c.at)
				replies := exchangeTCP(t, s.Addr(), 1, req)
				if len(replies) != 1 {
					t.Fatalf("%d replies", len(replies))
				}
				var r dns.Msg
				if err := r.Unpack(replies[0]); err != nil {
					t.Fatal(err)
				}
				ts := r.IsTsig()
				if r.Rcode != dns.RcodeNotAuth || len(r.Answer) != 0 || ts == nil || ts.Error != c.tsigErr ||
					dns.CanonicalName(ts.Hdr.Name) != c.key.name || ts.OrigId != m.Id {
					t.Fatalf("rcode %s, TSIG %v; want NOTAUTH, error %d", dns.RcodeToString[r.Rcode], ts, c.tsigErr)
				}
				if c.tsigErr != dns.RcodeBadTime {
					if ts.MACSize != 0 {
						t.Errorf("a %s answer is signed", dns.RcodeToString[int(c.tsigErr)])
					}
					return
				}
				// BADTIME: signed, the request's time, the server's time in Other Data.
				if ts.TimeSigned != uint64(c.at.Unix()) || ts.OtherLen != 6 {
					t.Errorf("BADTIME TSIG %v", ts)
				}
				// miekg/dns does not verify NOTAUTH answers: compute the MAC of RFC 8945
				// §4.3.3 here.
				var sent dns.Msg
				if err := sent.Unpack(req); err != nil {
					t.Fatal(err)
				}
				reqMAC, _ := hex.DecodeString(sent.IsTsig().MAC)
				secret, _ := base64.StdEncoding.DecodeString(k.secret)
				r.Extra = r.Extra[:len(r.Extra)-1]
				body, err := r.Pack()
				if err != nil {
					t.Fatal(err)
				}
				h := hmac.New(sha256.New, secret)
				h.Write(binary.BigEndian.AppendUint16(nil, uint16(len(reqMAC))))
				h.Write(reqMAC)
				h.Write(body)
				name := make([]byte, 256)
				n, _ := dns.PackDomainName(k.name, name, 0, nil, false)
				h.Write(name[:n])
				h.Write([]byte{0, 255, 0, 0, 0, 0}) // class ANY, TTL 0
				n, _ = dns.PackDomainName(k.alg, name, 0, nil, false)
				h.Write(name[:n])
				h.Write([]byte{0, 0, byte(ts.TimeSigned >> 24), byte(ts.TimeSigned >> 16), byte(ts.TimeSigned >> 8), byte(ts.TimeSigned)})
				h.Write([]byte{1, 44, 0, 18, 0, 6}) // fudge 300, error BADTIME, other length 6
				other, _ := hex.DecodeString(ts.OtherData)
				h.Write(other)
				if mac := hex.EncodeToString(h.Sum(nil)); mac != strings.ToLower(ts.MAC) {
					t.Errorf("BADTIME answer: MAC %s, want %s", ts.MAC, mac)
				}
				if st := binary.BigEndian.Uint64(append([]byte{0, 0}, other...)); time.Since(time.Unix(int64(st), 0)).Abs() > time.Minute {
					t.Errorf("server time %d in Other Data", st)
				}
			})
		}
	}
	if got := s.stats.events[xfrNotAuth].Load(); got != 4 {
		t.Errorf("%d transfers counted NOTAUTH, want 4", got)
	}
}

// TestSignedQueries asks signed questions over both transports: the answers are the
// unsigned ones plus a TSIG miekg/dns verifies.
func TestSignedQueries(t *testing.T) {
	cat := testCatalog(t)
	s := startServer(t, cat, "127.0.0.1:0", false)
	serial := s.Serial()
	for _, k := range testKeys(t, cat) {
		for _, network := range []string{"udp", "tcp"} {
			for _, c := range []tcase{testCase(t, "starttls"), testCase(t, "apex soa"), testCase(t, "nxdomain"), testCase(t, "edns small buffer")} {
				t.Run(k.name+"/"+network+"/"+c.name, func(t *testing.T) {
					m := c.q.msg(dns.Id())
					m.SetTsig(k.name, k.alg, 300, time.Now().Unix())
					cl := &dns.Client{Net: network, Timeout: 2 * time.Second, TsigSecret: map[string]string{k.name: k.secret}}
					r, _, err := cl.Exchange(m, s.Addr())
					if err != nil {
						t.Fatal(err) // includes a TSIG that does not verify
					}
					ts := r.IsTsig()
					if ts == nil || ts.Error != 0 {
						t.Fatalf("answer TSIG %v", ts)
					}
					r.Extra = r.Extra[:len(r.Extra)-1]
					checkReply(t, c, r, serial, network == "udp")
				})
			}
		}
	}
}

// TestTCPZonesServed serves a catalog with _tcp zones and checks the apex, the
// negative answers and the transfer of such a zone.
func TestTCPZonesServed(t *testing.T) {
	text := strings.Replace(readFile(t, "testdata/test.yaml"), "dns:\n", "dns:\n  tcp_zones: true\n", 1)
	cat, err := mailconf.Parse("testdata/test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, cat, "127.0.0.1:0", false)
	serial := s.Serial()
	neg := "_tcp.example.org. 600 IN SOA ns1.example.org. host\\.master.example.org. SERIAL 3600 900 1209600 600"
	cases := []tcase{
		{name: "apex soa", q: query{name: "_tcp.example.org.", qtype: dns.TypeSOA}, aa: true,
			answer: "_tcp.example.org. 7200 IN SOA ns1.example.org. host\\.master.example.org. SERIAL 3600 900 1209600 600"},
		{name: "apex ns", q: query{name: "_tcp.example.org.", qtype: dns.TypeNS}, aa: true,
			answer: "_tcp.example.org. 7200 IN NS ns1.example.org.\n_tcp.example.org. 7200 IN NS ns2.example.net."},
		{name: "srv", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeSRV}, aa: true,
			answer: "_imap._tcp.example.org. 7200 IN SRV 0 5 143 mail.example.org."},
		{name: "nxdomain", q: query{name: "_caldav._tcp.example.org.", qtype: dns.TypeSRV}, rcode: dns.RcodeNameError, aa: true, ns: neg},
		{name: "nodata", q: query{name: "_imap._tcp.example.org.", qtype: dns.TypeTXT}, aa: true, ns: neg},
		{name: "parent", q: query{name: "example.org.", qtype: dns.TypeSOA}, rcode: dns.RcodeRefused},
		{name: "autoconfig", q: query{name: "autoconfig.example.org.", qtype: dns.TypeA}, rcode: dns.RcodeRefused},
	}
	a := s.answers.Load()
	for _, c := range cases {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(c.name+"/"+network, func(t *testing.T) {
				r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(c.q.msg(dns.Id()), s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				checkReply(t, c, r, serial, network == "udp")
				pkt := mustPack(t, c.q)
				out := make([]byte, ednsUDPSize)
				if n := a.fast.answer(pkt, out, false); n > 0 && string(out[:n]) != string(serveOne(t, a, pkt, false)) {
					t.Error("the fast path answers otherwise than the general path")
				}
			})
		}
	}
	k := testKeys(t, cat)[0]
	rrs, _, err := axfr(t, s.Addr(), "_tcp.example.org.", k, 0)
	if err != nil || len(rrs) != len(a.zones.Zone("_tcp.example.org.").Records())+1 || rrs[0].Header().Name != "_tcp.example.org." {
		t.Errorf("AXFR of _tcp.example.org.: %v, %v", rrs, err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testCase returns the case of testCases with that name.
func testCase(t testing.TB, name string) tcase {
	t.Helper()
	for _, c := range testCases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no test case %q", name)
	return tcase{}
}
