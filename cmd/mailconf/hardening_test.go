package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/yamlbomb"
)

// dialFrom opens a TCP connection to addr from the loopback address from.
func dialFrom(from, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	return d.Dial("tcp", addr)
}

// holdHTTP opens n connections from one address, sends one request on each, reads
// the answer and keeps the connection: idle, kept alive, as an attacker would hold it.
func holdHTTP(t *testing.T, from, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	req := "GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: autoconfig.qq.com\r\n\r\n"
	for i := range n {
		c, err := dialFrom(from, addr)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			continue // shed or refused already: the server closed it
		}
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// holdDNS opens n DNS-over-TCP connections from one address, asks one question on each
// and keeps them open, as a client that asks again later would.
func holdDNS(t *testing.T, from, addr string, n int) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("_imaps._tcp.qq.com.", dns.TypeSRV)
	var conns []net.Conn
	for i := range n {
		c, err := dialFrom(from, addr)
		if err != nil {
			t.Fatalf("dns connection %d: %v", i, err)
		}
		conns = append(conns, c)
		dc := &dns.Conn{Conn: c}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if dc.WriteMsg(q) == nil {
			dc.ReadMsg()
		}
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
}

// answeredWithin runs f, which must succeed, and fails the test if it took longer than
// limit.
func answeredWithin(t *testing.T, what string, limit time.Duration, f func() error) {
	t.Helper()
	start := time.Now()
	err := f()
	took := time.Since(start)
	t.Logf("%s: %v", what, took)
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
	if took > limit {
		t.Errorf("%s took %v, want under %v", what, took, limit)
	}
}

func httpGetFrom(from, url, host string) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) { return dialFrom(from, addr) },
	}}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func dnsTCPFrom(from, addr string) error {
	c := &dns.Client{Net: "tcp", Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}}
	q := new(dns.Msg)
	q.SetQuestion("_imaps._tcp.qq.com.", dns.TypeSRV)
	r, _, err := c.Exchange(q, addr)
	if err != nil {
		return err
	}
	if len(r.Answer) != 1 {
		return fmt.Errorf("answer %v", r.Answer)
	}
	return nil
}

// TestConnectionFlood: one client address holds 5,000 idle HTTP connections and 1,100
// DNS-over-TCP connections; a second client is still answered at once on HTTP, on the
// admin listener and on DNS over TCP, and a reload still works. The flooding client is
// held to its share (its own idle connections are shed), which /metrics shows.
func TestConnectionFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "c.yaml", "providers: [{builtin: qq.com}]\n")
	d := startServe(t, "-config", cfg)
	holdHTTP(t, "127.0.0.1", d.addr["http"], 5000)
	holdDNS(t, "127.0.0.1", d.addr["dns"], 1100)

	answeredWithin(t, "second client, HTTP", time.Second, func() error {
		return httpGetFrom("127.0.0.2", "http://"+d.addr["http"]+"/mail/config-v1.1.xml", "autoconfig.qq.com")
	})
	answeredWithin(t, "second client, admin /readyz", time.Second, func() error {
		return httpGetFrom("127.0.0.2", "http://"+d.addr["admin"]+"/readyz", "")
	})
	answeredWithin(t, "second client, DNS over TCP", time.Second, func() error {
		return dnsTCPFrom("127.0.0.2", d.addr["dns"])
	})

	m := scrape(t, d.addr["admin"])
	if open := sample(m, "mailconf_connections", map[string]string{"listener": "http"}); open < 0 || open > 64+1 {
		t.Errorf("HTTP connections held: %v, want at most the per-client cap and the scrape's", open)
	}
	if shed := sample(m, "mailconf_connections_shed_total", map[string]string{"listener": "http"}); shed < 5000-64 {
		t.Errorf("HTTP connections shed: %v", shed)
	}
	if shed := sample(m, "mailconf_connections_shed_total", map[string]string{"listener": "dns-tcp"}); shed < 1100-32 {
		t.Errorf("DNS connections shed: %v", shed)
	}
	if got := sample(m, "mailconf_limit", map[string]string{"name": "http.max_connections_per_client"}); got != 64 {
		t.Errorf("mailconf_limit http.max_connections_per_client = %v", got)
	}

	// A reload still works, and changes the caps.
	writeConfig(t, dir, "c.yaml", "providers: [{builtin: qq.com}]\nhttp: {max_connections_per_client: 10}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "reload", func() bool { return strings.Contains(d.logs.String(), "configuration reloaded") })
	if got := sample(scrape(t, d.addr["admin"]), "mailconf_connections_limit", map[string]string{"listener": "http", "scope": "per_client"}); got != 10 {
		t.Errorf("per-client cap after reload: %v", got)
	}
}

// TestConnectionFloodManyAddresses: clients from many addresses fill the total cap; the
// longest-idle connections make room, so a newcomer is served.
func TestConnectionFloodManyAddresses(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "c.yaml", "providers: [{builtin: qq.com}]\nhttp: {max_connections: 100, max_connections_per_client: 8}\n")
	d := startServe(t, "-config", cfg)
	for i := range 50 {
		holdHTTP(t, fmt.Sprintf("127.0.1.%d", i+1), d.addr["http"], 8)
	}
	answeredWithin(t, "newcomer, HTTP", time.Second, func() error {
		return httpGetFrom("127.0.2.1", "http://"+d.addr["http"]+"/mail/config-v1.1.xml", "autoconfig.qq.com")
	})
	m := scrape(t, d.addr["admin"])
	if open := sample(m, "mailconf_connections", map[string]string{"listener": "http"}); open > 100 {
		t.Errorf("HTTP connections held: %v, over the cap of 100", open)
	}
	if shed := sample(m, "mailconf_connections_shed_total", map[string]string{"listener": "http"}); shed < 300 {
		t.Errorf("HTTP connections shed: %v", shed)
	}
}

// marker is a local part the log scan looks for.
const marker = "zq7probe"

// TestLogNeverHoldsAddresses sends the marker local part through every endpoint in every
// encoding (raw, %40, %2540, %2F splits; in paths, queries and bodies) and finds it
// nowhere in the log, at debug level.
func TestLogNeverHoldsAddresses(t *testing.T) {
	d := startServe(t, "-log-level", "debug")
	base := "http://" + d.addr["http"]
	addrs := []string{
		marker + "@qq.com",
		marker + "%40qq.com",
		marker + "%2540qq.com",
		marker + "%252540qq.com",
		"zq7%2Fprobe@qq.com",
		"zq7/probe@qq.com",
		marker + "%2Fx@qq.com",
		"%22" + marker + "%22@qq.com",
		marker + "@example.com",
		marker + "+tag@foxmail.com",
	}
	var targets []string
	for _, a := range addrs {
		targets = append(targets,
			"/mail/config-v1.1.xml?emailaddress="+a,
			"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+a,
			"/.well-known/mail-v1.xml?emailaddress="+a,
			"/v1.1/"+a,
			"/autoconfig/v1.1/"+a,
			"/autodiscover/autodiscover.json?Email="+a+"&Protocol=AutodiscoverV1",
			"/AutoDiscover/AutoDiscover.json/v1.0/"+a+"?Protocol=AutodiscoverV1",
			"/autodiscover/autodiscover.json/v1.0/"+a+"?Protocol=ActiveSync",
			"/autodiscover/autodiscover.xml?"+a,
			"/email.mobileconfig?emailaddress="+a,
			"/setup?emailaddress="+a,
			"/setup/"+a,
			"/?emailaddress="+a,
			"/.well-known/caldav/"+a,
			"/.well-known/mta-sts.txt?"+a,
			"/"+a,
			"/nothing/"+a+"/here",
		)
	}
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, target := range targets {
		req, err := http.NewRequest("GET", base+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(target)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = u.Path, u.RawPath, u.RawQuery
		req.URL.Opaque = u.EscapedPath() // send the path exactly as written
		if resp, err := client.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	// POX bodies: well-formed, malformed around the address, with entities.
	for _, a := range []string{marker + "@qq.com", marker + "@example.com", marker + "&amp;x@qq.com", marker + "&#64;qq.com"} {
		for _, body := range []string{
			`<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>` + a + `</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`,
			`<Autodiscover><Request><EMailAddress>` + a + `</EMail></Request>`,
			`<Autodiscover><Request><LegacyDN>` + a + `</LegacyDN><AcceptableResponseSchema>bogus-` + marker + `</AcceptableResponseSchema></Request></Autodiscover>`,
			`<!DOCTYPE x [<!ENTITY e "` + a + `">]><Autodiscover>&e;</Autodiscover>`,
		} {
			resp, err := client.Post(base+"/Autodiscover/Autodiscover.xml", "text/xml", strings.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	// Raw requests with the marker in places a client library would not put it.
	for _, raw := range []string{
		"GET /v1.1/" + marker + "@qq.com HTTP/1.1\r\nHost: " + marker + ".qq.com\r\nConnection: close\r\n\r\n",
		"GET /%" + marker + " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: " + marker + "\r\nConnection: close\r\n\r\n",
	} {
		c, err := net.Dial("tcp", d.addr["http"])
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(c, raw)
		io.Copy(io.Discard, c)
		c.Close()
	}
	// DNS questions for names with the marker.
	for _, name := range []string{marker + ".qq.com.", "_imaps._tcp." + marker + ".example."} {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeSRV)
		dns.Exchange(q, d.addr["dns"])
	}
	time.Sleep(200 * time.Millisecond) // the log is written in batches
	logs := d.stop(t)
	if n := strings.Count(logs, `"msg":"http"`); n < len(targets) {
		t.Fatalf("%d request lines for %d requests: the scan would prove nothing\n%s", n, len(targets), logs)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(strings.ToLower(line), marker) || strings.Contains(line, "zq7") {
			t.Errorf("the log holds the marker: %s", line)
		}
	}
}

// TestValidateRefusesFIFO: validate on a FIFO is refused at once instead of waiting for a
// writer.
func TestValidateRefusesFIFO(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "c.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan struct{})
	var code int
	var stdout, stderr bytes.Buffer
	go func() {
		code = run(context.Background(), []string{"validate", "-config", fifo}, &stdout, &stderr)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("validate blocked on a FIFO")
	}
	if code != 1 || !strings.Contains(stderr.String(), "not a regular file") {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
}

// TestReloadRefusesFIFO: a configuration path replaced by a FIFO is refused at reload,
// and the server goes on serving the configuration it has.
func TestReloadRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "c.yaml", "providers: [{builtin: qq.com}]\n")
	d := startServe(t, "-config", cfg)
	os.Remove(cfg)
	if err := syscall.Mkfifo(cfg, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "refused reload", func() bool { return strings.Contains(d.logs.String(), "not a regular file") })
	if err := httpGetFrom("127.0.0.1", "http://"+d.addr["http"]+"/mail/config-v1.1.xml", "autoconfig.qq.com"); err != nil {
		t.Errorf("after the refused reload: %v", err)
	}
	d.stop(t)
}

// TestShutdownDuringBlockedReload: a reload that hangs (a configuration file on a stuck
// mount) does not keep SIGTERM from stopping the server within the drain timeout.
func TestShutdownDuringBlockedReload(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	blocked := make(chan struct{}, 1)
	orig := loadCatalog
	defer func() { loadCatalog = orig }()
	var calls atomic.Int32
	loadCatalog = func(path string) (*mailconf.Catalog, error) {
		if calls.Add(1) > 1 { // every load after the one at start-up hangs
			blocked <- struct{}{}
			<-release
		}
		return orig(path)
	}
	d := startServe(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-blocked:
	case <-time.After(5 * time.Second):
		t.Fatal("the reload did not start")
	}
	start := time.Now()
	d.cancel()
	select {
	case code := <-d.done:
		if code != 0 {
			t.Errorf("exit %d", code)
		}
		d.done <- 0
	case <-time.After(shutdownGrace + 5*time.Second):
		t.Fatal("the server did not stop while a reload was blocked")
	}
	t.Logf("stopped %v after SIGTERM, with a reload blocked", time.Since(start))
}

// TestAliasBombCommands: `mailconf validate` and a reload refuse the alias bomb and the
// billion laughs, and the server goes on serving what it had. (The parser's own test,
// TestAliasesRefused, bounds the memory; the times are logged here.)
func TestAliasBombCommands(t *testing.T) {
	dir := t.TempDir()
	bombs := []struct{ name, content string }{{"alias-bomb.yaml", yamlbomb.AliasBomb(3000)}, {"laughs.yaml", yamlbomb.BillionLaughs()}}
	for _, bomb := range bombs {
		path := writeConfig(t, dir, bomb.name, bomb.content)
		var stdout, stderr bytes.Buffer
		start := time.Now()
		code := run(context.Background(), []string{"validate", "-config", path}, &stdout, &stderr)
		t.Logf("validate refused %s (%d bytes) in %v", bomb.name, len(bomb.content), time.Since(start))
		out := stdout.String() + stderr.String()
		if code != 1 || !strings.Contains(out, bomb.name) || !strings.Contains(out, "YAML aliases") {
			t.Errorf("validate %s: exit %d, output %.300q", bomb.name, code, out)
		}
	}

	cfg := writeConfig(t, dir, "c.yaml", "providers: [{builtin: qq.com}]\n")
	d := startServe(t, "-config", cfg)
	for _, bomb := range bombs {
		writeConfig(t, dir, "c.yaml", bomb.content)
		before := len(d.logs.String())
		refused := strings.Count(d.logs.String(), "configuration refused")
		start := time.Now()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "refused reload of "+bomb.name, func() bool {
			return strings.Count(d.logs.String(), "configuration refused") > refused
		})
		t.Logf("reload refused %s within %v", bomb.name, time.Since(start))
		if logs := d.logs.String()[before:]; !strings.Contains(logs, "YAML aliases") {
			t.Errorf("the refusal of %s does not name the aliases:\n%s", bomb.name, logs)
		}
		if err := httpGetFrom("127.0.0.1", "http://"+d.addr["http"]+"/mail/config-v1.1.xml", "autoconfig.qq.com"); err != nil {
			t.Errorf("after refusing %s: %v", bomb.name, err)
		}
	}
	d.stop(t)
}
