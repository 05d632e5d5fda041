package dnssrv

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// fakeSecondary is a UDP listener that takes NOTIFY messages as a secondary does: it
// checks the TSIG with miekg/dns and answers signed, or answers rcode, or stays
// silent for the first drop messages.
type fakeSecondary struct {
	conn  net.PacketConn
	key   testKey
	rcode int

	mu    sync.Mutex
	drop  int
	seen  map[string]uint32 // zone → serial of the last NOTIFY taken
	count int
	bad   []string
}

func newFakeSecondary(t *testing.T, key testKey, rcode, drop int) *fakeSecondary {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSecondary{conn: conn, key: key, rcode: rcode, drop: drop, seen: map[string]uint32{}}
	go f.serve()
	t.Cleanup(func() { conn.Close() })
	return f
}

func (f *fakeSecondary) serve() {
	buf := make([]byte, 65535)
	for {
		n, from, err := f.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		pkt := append([]byte(nil), buf[:n]...)
		f.mu.Lock()
		reply := f.take(pkt)
		f.mu.Unlock()
		if reply != nil {
			f.conn.WriteTo(reply, from)
		}
	}
}

// take checks one NOTIFY and returns the answer to send, if any; f.mu is held.
func (f *fakeSecondary) take(pkt []byte) []byte {
	var m dns.Msg
	if err := m.Unpack(pkt); err != nil {
		f.bad = append(f.bad, err.Error())
		return nil
	}
	f.count++
	if f.drop > 0 {
		f.drop--
		return nil
	}
	ts := m.IsTsig()
	switch {
	case m.Opcode != dns.OpcodeNotify || !m.Authoritative || len(m.Question) != 1 || m.Question[0].Qtype != dns.TypeSOA:
		f.bad = append(f.bad, "not a NOTIFY: "+m.String())
		return nil
	case (f.key.name != "") != (ts != nil):
		f.bad = append(f.bad, fmt.Sprintf("TSIG %v", ts))
		return nil
	case ts != nil && dns.TsigVerify(pkt, f.key.secret, "", false) != nil:
		f.bad = append(f.bad, "TSIG does not verify")
		return nil
	case len(m.Answer) != 1:
		f.bad = append(f.bad, "no SOA hint")
		return nil
	}
	// RFC 1996 §3.7: the SOA in the answer section is a hint of the new serial.
	f.seen[m.Question[0].Name] = m.Answer[0].(*dns.SOA).Serial
	r := new(dns.Msg)
	r.SetRcode(&m, f.rcode)
	if ts == nil {
		out, _ := r.Pack()
		return out
	}
	r.SetTsig(f.key.name, f.key.alg, 300, time.Now().Unix())
	out, _, err := dns.TsigGenerate(r, f.key.secret, ts.MAC, false)
	if err != nil {
		f.bad = append(f.bad, err.Error())
		return nil
	}
	return out
}

// sent returns how many NOTIFY messages arrived.
func (f *fakeSecondary) sent() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// serials returns the serial last notified for every zone.
func (f *fakeSecondary) serials() map[string]uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.seen)
}

// notifyCatalog is testdata/test.yaml with the NOTIFY targets given.
func notifyCatalog(t *testing.T, extra string, targets ...string) *mailconf.Catalog {
	t.Helper()
	text := readFile(t, "testdata/test.yaml") + extra
	if len(targets) > 0 {
		text += "  notify: [\"" + strings.Join(targets, "\", \"") + "\"]\n"
	}
	cat, err := mailconf.Parse("testdata/test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// waitFor polls cond until it holds, failing the test after a generous deadline
// (a bound on waiting, not a timing claim).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited in vain for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNotify starts a server with NOTIFY targets: every zone is announced at start,
// signed where a key is set, retried when unanswered, and announced again with the
// new serial after an update that changes the records, not after one that does not.
func TestNotify(t *testing.T) {
	cat := testCatalog(t)
	k := testKeys(t, cat)[0]
	signedSec := newFakeSecondary(t, k, dns.RcodeSuccess, 2) // loses the first two
	plainSec := newFakeSecondary(t, testKey{}, dns.RcodeSuccess, 0)
	refusing := newFakeSecondary(t, testKey{}, dns.RcodeRefused, 0)
	cat = notifyCatalog(t, "", signedSec.conn.LocalAddr().String(), plainSec.conn.LocalAddr().String()+" NOKEY",
		refusing.conn.LocalAddr().String()+" NOKEY")
	s, err := New(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Long enough that only the lost messages time out, even on a busy machine.
	s.notify.firstWait = 500 * time.Millisecond
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	zones := len(s.answers.Load().zones.Zones())
	all := func(f *fakeSecondary, serial uint32) func() bool {
		return func() bool {
			got := f.serials()
			if len(got) != zones {
				return false
			}
			for _, v := range got {
				if v != serial {
					return false
				}
			}
			return true
		}
	}
	first := s.Serial()
	waitFor(t, "NOTIFY of every zone, signed", all(signedSec, first))
	waitFor(t, "NOTIFY of every zone, unsigned", all(plainSec, first))
	waitFor(t, "NOTIFY refused", func() bool { return s.stats.events[notifyRefused].Load() == uint64(zones) })
	waitFor(t, "NOTIFY counted", func() bool { return s.stats.events[notifyOK].Load() == uint64(2*zones) })
	if got := s.stats.events[notifyTimeout].Load(); got < 2 {
		t.Errorf("%d timeouts counted, want 2", got)
	}
	if got := refusing.sent(); got != zones {
		t.Errorf("a REFUSED NOTIFY was sent %d times for %d zones; refusals are not retried", got, zones)
	}

	// The same records again: no NOTIFY.
	before := plainSec.sent()
	if err := s.Update(notifyCatalog(t, "", signedSec.conn.LocalAddr().String(), plainSec.conn.LocalAddr().String()+" NOKEY",
		refusing.conn.LocalAddr().String()+" NOKEY")); err != nil {
		t.Fatal(err)
	}
	// A changed record: every zone again, with the new serial.
	changed := notifyCatalog(t, "", signedSec.conn.LocalAddr().String(), plainSec.conn.LocalAddr().String()+" NOKEY")
	changed.DNS.Weight = new(uint16)
	*changed.DNS.Weight = 9
	if err := s.Update(changed); err != nil {
		t.Fatal(err)
	}
	second := s.Serial()
	if second == first {
		t.Fatal("the serial did not change")
	}
	waitFor(t, "NOTIFY of the new serial, signed", all(signedSec, second))
	waitFor(t, "NOTIFY of the new serial, unsigned", all(plainSec, second))
	if got := plainSec.sent(); got != before+zones {
		t.Errorf("%d NOTIFY messages after two updates, one of which changed nothing; want %d", got-before, zones)
	}
	for _, f := range []*fakeSecondary{signedSec, plainSec, refusing} {
		f.mu.Lock()
		if len(f.bad) > 0 {
			t.Errorf("bad NOTIFY messages: %q", f.bad)
		}
		f.mu.Unlock()
	}
}

// TestNotifyStopsAtShutdown: a secondary that never answers is retried until
// Shutdown, which ends the retries at once.
func TestNotifyStopsAtShutdown(t *testing.T) {
	silent := newFakeSecondary(t, testKey{}, dns.RcodeSuccess, 1<<30)
	cat := notifyCatalog(t, "", silent.conn.LocalAddr().String()+" NOKEY")
	s, err := New(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.notify.firstWait = 20 * time.Millisecond
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a retry", func() bool { return s.stats.events[notifyTimeout].Load() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	// Messages sent before Shutdown may still be on their way; after that, the next
	// retry would come within 640 ms.
	time.Sleep(100 * time.Millisecond)
	n := silent.sent()
	time.Sleep(time.Second)
	if silent.sent() != n {
		t.Errorf("NOTIFY sent after Shutdown")
	}
}

// TestRateLimit floods the server from one address with a limit of 10 answers a
// second and slip 2, the clock held still: 10 answers, then every second one
// truncated and the rest dropped; TCP is not limited, and loopback is exempt by
// default.
func TestRateLimit(t *testing.T) {
	cat := notifyCatalog(t, "  rate_limit: {responses_per_second: 10, slip: 2, exempt: []}\n")
	s, err := New(cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.rrlNow = func() uint32 { return 1000 }
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	conn, err := net.Dial("udp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The answers may come back in any order (one socket per processor): the counts
	// are checked per kind.
	queries := []query{{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}, {name: "nope.example.org.", qtype: dns.TypeA, edns: true},
		{name: "_imaps._tcp.big.example.", qtype: dns.TypeSRV, edns: true, size: 4096}}
	const n = 30
	for i := range n {
		if _, err := conn.Write(mustPack(t, queries[i%len(queries)])); err != nil {
			t.Fatal(err)
		}
	}
	full, slipped := 0, 0
	buf := make([]byte, 65535)
	for full+slipped < 20 {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%d full and %d truncated answers, then %v", full, slipped, err)
		}
		var r dns.Msg
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Truncated && len(r.Answer)+len(r.Ns)+len(r.Extra) == 0 && len(r.Question) == 1:
			slipped++
		case !r.Truncated:
			full++
		default:
			t.Fatalf("answer %v", r)
		}
	}
	waitFor(t, "30 queries counted", func() bool { return s.stats.events[rrlLimited].Load() == 20 })
	if full != 10 || slipped != 10 || s.stats.events[rrlSlipped].Load() != 10 || s.stats.events[rrlDropped].Load() != 10 {
		t.Errorf("%d full, %d truncated, counted %d slipped %d dropped; want 10, 10, 10, 10",
			full, slipped, s.stats.events[rrlSlipped].Load(), s.stats.events[rrlDropped].Load())
	}
	// TCP is not limited.
	for range 20 {
		if rs := exchangeTCP(t, s.Addr(), 1, mustPack(t, queries[0])); len(rs) != 1 {
			t.Fatal("TCP query not answered")
		}
	}
	// The default exempts loopback.
	if err := s.Update(testCatalog(t)); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if r := exchangeUDP(t, s.Addr(), mustPack(t, queries[0])); r == nil || r[2]&bitTC != 0 {
			t.Fatal("loopback limited by default")
		}
	}
}

// TestRateLimiterNetworks checks the verdicts of the limiter itself: per /24 and /64
// by default, budgets renewed every second, other networks untouched.
func TestRateLimiterNetworks(t *testing.T) {
	r := newRateLimiter(&rrlSettings{rate: 3, slip: 3, v4bits: 24, v6bits: 64})
	verdicts := func(addr string, now uint32, k int) []rrlVerdict {
		var out []rrlVerdict
		for i := range k {
			a := mustAddr(t, strings.ReplaceAll(addr, "*", fmt.Sprint(i+1)))
			out = append(out, r.check(a, now))
		}
		return out
	}
	P, S, D := rrlPass, rrlSlip, rrlDrop
	if got, want := verdicts("192.0.2.*", 1, 9), []rrlVerdict{P, P, P, D, D, S, D, D, S}; !slices.Equal(got, want) {
		t.Errorf("one /24: %v, want %v", got, want)
	}
	if got := verdicts("192.0.3.1", 1, 3); !slices.Equal(got, []rrlVerdict{P, P, P}) {
		t.Errorf("the next /24: %v", got)
	}
	if got := verdicts("192.0.2.1", 2, 3); !slices.Equal(got, []rrlVerdict{P, P, P}) {
		t.Errorf("the next second: %v", got)
	}
	if got := verdicts("2001:db8::*", 1, 4); !slices.Equal(got, []rrlVerdict{P, P, P, D}) {
		t.Errorf("one /64: %v", got)
	}
	if got := verdicts("::ffff:192.0.2.9", 2, 1); !slices.Equal(got, []rrlVerdict{D}) {
		t.Errorf("a mapped address counts for its IPv4 network: %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { r.check(mustAddr(t, "198.51.100.7"), 5) }); n != 0 {
		t.Errorf("%v allocations per answer", n)
	}
}

func mustAddr(t testing.TB, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
