package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// needTool returns the path of an outside program the test needs: it skips without
// it, or fails when MAILCONF_REQUIRE_TOOLS is set (CI).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("MAILCONF_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed (apt-get install %s)", name, pkg)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

// freeDNSPort returns a loopback port free for UDP and TCP at the time of asking.
func freeDNSPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := pc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		pc.Close()
		if err == nil {
			ln.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// secondariesConfig is the configuration of the primary: two providers, a key, NOTIFY
// to both secondaries; weight is the SRV weight, changed to make a new version.
func secondariesConfig(nsdPort, knotPort, weight int) string {
	return fmt.Sprintf(`providers:
  - builtin: qq.com
  - id: example.org
    display_name: Example
    domains: [example.org, example.net]
    incoming:
      - {type: imap, hostname: mail.example.org, port: 993, socket: SSL}
      - {type: pop3, hostname: mail.example.org, port: 995, socket: SSL}
    outgoing:
      - {type: smtp, hostname: mail.example.org, port: 465, socket: SSL}
    not_offered: [imap, pop3]
autodiscover:
  url: https://autodiscover.example.org/autodiscover/autodiscover.xml
dns:
  nameservers: [ns1.example.org, ns2.example.net]
  nameserver_addresses: {ns1.example.org: [192.0.2.53], ns2.example.net: [192.0.2.54]}
  addresses: [192.0.2.10, "2001:db8::10"]
  weight: %d
  transfer:
    allow: [127.0.0.1]
    keys: [{name: xfr-key, algorithm: hmac-sha256, secret_file: xfr.key}]
  notify: ["127.0.0.1:%d", "127.0.0.1:%d"]
`, weight, nsdPort, knotPort)
}

// TestSecondaries runs NSD and Knot as secondaries of `mailconf serve` on loopback,
// with TSIG: both transfer every zone and answer the SOA, NS and SRV (and address)
// queries as mailconf does; after a reload that changes a record, NOTIFY brings both
// to the new serial within 5 seconds. Then the refusals: no key, outside allow, a
// wrong key.
func TestSecondaries(t *testing.T) {
	nsd := needTool(t, "nsd", "nsd")
	knotd := needTool(t, "knotd", "knot")
	dir := t.TempDir()
	secret := make([]byte, 32)
	rand.Read(secret)
	b64 := base64.StdEncoding.EncodeToString(secret)
	writeConfig(t, dir, "xfr.key", b64+"\n")
	nsdPort, knotPort := freeDNSPort(t), freeDNSPort(t)
	cfg := writeConfig(t, dir, "mailconf.yaml", secondariesConfig(nsdPort, knotPort, 1))
	d := startServe(t, "-config", cfg, "-http", "")
	primary := d.addr["dns"]
	_, pport, _ := net.SplitHostPort(primary)

	// The zones, as mailconf transfers them to a client with the key.
	k := map[string]string{"xfr-key.": b64}
	zones := []string{"example.net.", "example.org.", "foxmail.com.", "qq.com."}
	records := func(zone string) []dns.RR {
		m := new(dns.Msg)
		m.SetAxfr(zone)
		m.SetTsig("xfr-key.", dns.HmacSHA256, 300, time.Now().Unix())
		ch, err := (&dns.Transfer{TsigSecret: k}).In(m, primary)
		if err != nil {
			t.Fatal(err)
		}
		var rrs []dns.RR
		for env := range ch {
			if env.Error != nil {
				t.Fatalf("AXFR %s: %v", zone, env.Error)
			}
			rrs = append(rrs, env.RR...)
		}
		return rrs
	}

	nsdDir, knotDir := filepath.Join(dir, "nsd"), filepath.Join(dir, "knot")
	for _, p := range []string{nsdDir, knotDir} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// NSD: no privilege drop, no database, every path in the test directory, no
	// reload throttling, no rate limiting, no authority section in positive answers
	// (nsd.conf(5)), as mailconf answers.
	var nsdConf strings.Builder
	fmt.Fprintf(&nsdConf, `server:
    ip-address: 127.0.0.1@%d
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "%[2]s"
    database: ""
    zonelistfile: "%[2]s/zone.list"
    xfrdfile: ""
    xfrdir: "%[2]s"
    pidfile: "%[2]s/nsd.pid"
    logfile: "%[2]s/nsd.log"
    verbosity: 2
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
    xfrd-reload-timeout: 0
    minimal-responses: yes
remote-control:
    control-enable: no
key:
    name: "xfr-key"
    algorithm: hmac-sha256
    secret: "%[3]s"
`, nsdPort, nsdDir, b64)
	for _, z := range zones {
		fmt.Fprintf(&nsdConf, "zone:\n    name: %q\n    zonefile: \"%s/%szone\"\n    allow-notify: 127.0.0.1 xfr-key\n    request-xfr: 127.0.0.1@%s xfr-key\n", z, nsdDir, z, pport)
	}
	writeConfig(t, nsdDir, "nsd.conf", nsdConf.String())

	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	var knotConf strings.Builder
	fmt.Fprintf(&knotConf, `server:
    rundir: "%[1]s"
    pidfile: "%[1]s/knot.pid"
    user: %[2]s:%[3]s
    listen: 127.0.0.1@%[4]d
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
log:
  - target: "%[1]s/knot.log"
    any: info
database:
    storage: "%[1]s"
control:
    listen: "%[1]s/knot.sock"
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: %[5]s
remote:
  - id: primary
    address: 127.0.0.1@%[6]s
    key: xfr-key
acl:
  - id: notify-from-primary
    address: 127.0.0.1
    key: xfr-key
    action: notify
template:
  - id: default
    storage: "%[1]s"
    file: "%%s.zone"
zone:
`, knotDir, u.Username, g.Name, knotPort, b64, pport)
	for _, z := range zones {
		fmt.Fprintf(&knotConf, "  - domain: %s\n    master: primary\n    acl: [notify-from-primary]\n", z)
	}
	writeConfig(t, knotDir, "knot.conf", knotConf.String())

	start := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		out, err := os.Create(filepath.Join(dir, name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			out.Close()
		})
	}
	// Foreground processes: nsd -d; knotd stays in the foreground by itself.
	start("nsd", nsd, "-d", "-c", filepath.Join(nsdDir, "nsd.conf"))
	start("knotd", knotd, "-c", filepath.Join(knotDir, "knot.conf"))
	logs := func() string {
		var b strings.Builder
		for _, f := range []string{"nsd.out", "nsd/nsd.log", "knotd.out", "knot/knot.log"} {
			data, _ := os.ReadFile(filepath.Join(dir, f))
			fmt.Fprintf(&b, "--- %s\n%s", f, data)
		}
		return b.String() + "--- mailconf\n" + d.logs.String()
	}

	servers := map[string]string{"nsd": net.JoinHostPort("127.0.0.1", strconv.Itoa(nsdPort)), "knot": net.JoinHostPort("127.0.0.1", strconv.Itoa(knotPort))}
	ask := func(server, name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.RecursionDesired = false
		r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, server)
		if err != nil {
			return nil
		}
		return r
	}
	serial := func(server, zone string) uint32 {
		if r := ask(server, zone, dns.TypeSOA); r != nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) == 1 {
			if soa, ok := r.Answer[0].(*dns.SOA); ok {
				return soa.Serial
			}
		}
		return 0
	}
	serving := func(want uint32) func() bool {
		return func() bool {
			for _, s := range servers {
				for _, z := range zones {
					if serial(s, z) != want {
						return false
					}
				}
			}
			return true
		}
	}
	first := serial(primary, "qq.com.")
	waitUntil := func(begin time.Time, limit time.Duration, what string, cond func() bool) time.Duration {
		t.Helper()
		for !cond() {
			if time.Since(begin) > limit {
				t.Fatalf("%s: not within %v\n%s", what, limit, logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(begin)
	}
	waitUntil(time.Now(), 30*time.Second, "both secondaries transfer every zone", serving(first))

	// Query by query: every owner and type of every zone, a name that does not
	// exist and a type a name does not have.
	compare := func() {
		t.Helper()
		for _, z := range zones {
			rrs := records(z)
			type q struct {
				name  string
				qtype uint16
			}
			var qs []q
			for _, rr := range rrs {
				h := rr.Header()
				if c := (q{h.Name, h.Rrtype}); !slices.Contains(qs, c) {
					qs = append(qs, c)
				}
			}
			qs = append(qs, q{"nope." + z, dns.TypeA}, q{"_imaps._tcp." + z, dns.TypeTXT})
			for _, c := range qs {
				want := answerText(ask(primary, c.name, c.qtype))
				for name, s := range servers {
					if got := answerText(ask(s, c.name, c.qtype)); got != want {
						t.Errorf("%s %s on %s:\n%s\nmailconf:\n%s", c.name, dns.TypeToString[c.qtype], name, got, want)
					}
				}
			}
		}
	}
	compare()

	// A reload that changes a record: NOTIFY, then both serve the new serial.
	writeConfig(t, dir, "mailconf.yaml", secondariesConfig(nsdPort, knotPort, 7))
	reloaded := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", func() bool { return strings.Contains(d.logs.String(), "configuration reloaded") })
	second := serial(primary, "qq.com.")
	if second == first {
		t.Fatal("the serial did not change")
	}
	// The SOA refresh is an hour: only NOTIFY brings them there this soon.
	took := waitUntil(reloaded, 5*time.Second, "both secondaries serve the new serial", serving(second))
	t.Logf("new serial served by NSD and Knot %v after SIGHUP", took.Round(time.Millisecond))
	compare()
	if r := ask(servers["knot"], "_imaps._tcp.example.org.", dns.TypeSRV); r == nil || len(r.Answer) != 1 || r.Answer[0].(*dns.SRV).Weight != 7 {
		t.Errorf("Knot after the reload: %v", r)
	}
	m := scrape(t, d.addr["admin"])
	if ok := sample(m, "mailconf_dns_notify_total", map[string]string{"result": "ok"}); ok < float64(2*len(zones)) {
		t.Errorf("%v NOTIFY acknowledged, want at least %d", ok, 2*len(zones))
	}
	if ok := sample(m, "mailconf_dns_transfers_total", map[string]string{"result": "ok"}); ok < float64(4*len(zones)) {
		t.Errorf("%v transfers, want at least %d", ok, 4*len(zones))
	}

	// Refused: no key; outside allow; NOTAUTH: a wrong key.
	for _, c := range []struct {
		name, src, key, secret string
		rcode                  int
	}{
		{"no key", "127.0.0.1", "", "", dns.RcodeRefused},
		{"outside allow", "127.0.0.2", "xfr-key.", b64, dns.RcodeRefused},
		{"wrong key", "127.0.0.1", "other-key.", b64, dns.RcodeNotAuth},
	} {
		m := new(dns.Msg)
		m.SetAxfr("qq.com.")
		cl := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src)}}}
		if c.key != "" {
			m.SetTsig(c.key, dns.HmacSHA256, 300, time.Now().Unix())
			cl.TsigSecret = map[string]string{c.key: c.secret}
		}
		r, _, err := cl.Exchange(m, primary)
		if c.rcode == dns.RcodeNotAuth && errors.Is(err, dns.ErrAuth) && r != nil && r.Rcode == dns.RcodeNotAuth {
			continue // miekg/dns reports a NOTAUTH answer to a signed request as dns.ErrAuth too
		}
		if err != nil || r.Rcode != c.rcode || len(r.Answer) != 0 {
			t.Errorf("%s: %v %v", c.name, r, err)
		}
	}
}

// answerText is what a comparison looks at: rcode, AA, and the answer and authority
// sections in a canonical order (names lowercased).
func answerText(r *dns.Msg) string {
	if r == nil {
		return "no answer"
	}
	var lines []string
	for _, sec := range [][]dns.RR{r.Answer, r.Ns} {
		var part []string
		for _, rr := range sec {
			part = append(part, strings.ToLower(rr.String()))
		}
		slices.Sort(part)
		lines = append(lines, strings.Join(part, "\n"))
	}
	return fmt.Sprintf("%s aa=%v\n%s", dns.RcodeToString[r.Rcode], r.Authoritative, strings.Join(lines, "\n--\n"))
}

// TestRecordsPassZoneCheckers checks every zone `mailconf records` prints with BIND's
// named-checkzone and Knot's kzonecheck, for the built-in configuration, the DNS test
// configuration (also with _tcp zones) and the example.
func TestRecordsPassZoneCheckers(t *testing.T) {
	namedCheckzone := needTool(t, "named-checkzone", "bind9-utils")
	kzonecheck := needTool(t, "kzonecheck", "knot-dnssecutils")
	dir := t.TempDir()
	// The test configuration with _tcp zones, next to copies of its key files.
	test, err := os.ReadFile("../../dnssrv/testdata/test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"xfr-test.key", "xfr-test-512.key"} {
		b, err := os.ReadFile("../../dnssrv/testdata/" + k)
		if err != nil {
			t.Fatal(err)
		}
		writeConfig(t, dir, k, string(b))
	}
	tcpZones := writeConfig(t, dir, "tcp.yaml", strings.Replace(string(test), "\ndns:\n", "\ndns:\n  tcp_zones: true\n", 1))
	for name, args := range map[string][]string{
		"builtin":   nil,
		"test":      {"-config", "../../dnssrv/testdata/test.yaml"},
		"tcp-zones": {"-config", tcpZones},
		"example":   {"-config", "../../deploy/mailconf.example.yaml"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, append([]string{"records"}, args...)...)
			if code != 0 {
				t.Fatalf("records: exit %d: %s", code, stderr)
			}
			zones := 0
			for _, text := range strings.SplitAfter(stdout, "\n\n") {
				// Each zone starts with "; zone <apex>, generated by mailconf".
				origin, _, ok := strings.Cut(strings.TrimPrefix(text, "; zone "), ",")
				if !ok || !strings.HasPrefix(text, "; zone ") {
					t.Fatalf("a zone without its header:\n%s", text)
				}
				zones++
				file := filepath.Join(t.TempDir(), "zone")
				writeConfig(t, filepath.Dir(file), "zone", text)
				// -i local: no lookups of names outside the zone.
				for _, cmd := range [][]string{{namedCheckzone, "-i", "local", origin, file}, {kzonecheck, "-o", origin, file}} {
					if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
						t.Errorf("%s %s: %v\n%s\n%s", filepath.Base(cmd[0]), origin, err, out, text)
					}
				}
			}
			if zones == 0 {
				t.Fatal("no zones printed")
			}
		})
	}
}
