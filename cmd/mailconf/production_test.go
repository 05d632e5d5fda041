package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mailconf test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue writes a leaf certificate for names with the given serial, and its key, to
// certPath and keyPath.
func (ca *testCA) issue(t *testing.T, serial int64, certPath, keyPath string, names ...string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Duration(serial) * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Write to temporary names and rename, as certificate tools do.
	for path, block := range map[string]*pem.Block{certPath: {Type: "CERTIFICATE", Bytes: der}, keyPath: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(path+".tmp", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// servedSerial connects over TLS and returns the serial of the certificate served.
func servedSerial(t *testing.T, addr, serverName string, pool *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func TestHTTPSCertificateFiles(t *testing.T) {
	old := certFileCheckInterval
	certFileCheckInterval = 50 * time.Millisecond
	t.Cleanup(func() { certFileCheckInterval = old })

	ca := newTestCA(t)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca.issue(t, 100, certPath, keyPath, "autoconfig.qq.com", "autodiscover.qq.com")
	d := startServe(t, "-https", "127.0.0.1:0", "-tls-cert", certPath, "-tls-key", keyPath)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, ServerName: "autoconfig.qq.com"}}}
	req, _ := http.NewRequest("GET", "https://"+d.addr["https"]+"/mail/config-v1.1.xml", nil)
	req.Host = "autoconfig.qq.com"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "imap.qq.com") {
		t.Fatalf("HTTPS autoconfig: %d %s", resp.StatusCode, body)
	}
	// Autoconfig keeps answering on plain HTTP: no redirect to HTTPS.
	if got := getStatus(t, "http://"+d.addr["http"]+"/v1.1/qq.com", nil); got != 200 {
		t.Fatalf("plain HTTP: %d", got)
	}
	if got := servedSerial(t, d.addr["https"], "autoconfig.qq.com", ca.pool); got != 100 {
		t.Fatalf("serial %d", got)
	}

	// Rotation on disk is picked up without a restart.
	ca.issue(t, 200, certPath, keyPath, "autoconfig.qq.com")
	waitFor(t, 5*time.Second, "rotated certificate", func() bool {
		return servedSerial(t, d.addr["https"], "autoconfig.qq.com", ca.pool) == 200
	})
	// A broken pair is refused; the last good certificate stays.
	if err := os.WriteFile(certPath, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "refusal logged", func() bool {
		return strings.Contains(d.logs.String(), "cannot be loaded")
	})
	if got := servedSerial(t, d.addr["https"], "autoconfig.qq.com", ca.pool); got != 200 {
		t.Fatalf("after a broken file: serial %d", got)
	}
	// SIGHUP re-reads them too.
	ca.issue(t, 300, certPath, keyPath, "autoconfig.qq.com")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "certificate after SIGHUP", func() bool {
		return servedSerial(t, d.addr["https"], "autoconfig.qq.com", ca.pool) == 300
	})
	m := scrape(t, d.addr["admin"])
	if v := gauge(m, "mailconf_tls_certificate_expiry_timestamp_seconds", map[string]string{"name": "file"}); v < float64(time.Now().Add(250*time.Hour).Unix()) {
		t.Errorf("certificate expiry metric %v is not the new certificate's", v)
	}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getStatus(t *testing.T, url string, header http.Header) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRateLimitAndTrustedProxies(t *testing.T) {
	dir := t.TempDir()
	limited := writeConfig(t, dir, "limited.yaml", "providers: [{builtin: qq.com}]\nhttp:\n  rate_limit: 0.5\n  rate_burst: 3\n")
	d := startServe(t, "-config", limited)
	url := "http://" + d.addr["http"] + "/v1.1/qq.com"
	// A client spoofing X-Forwarded-For still spends its own budget.
	var codes []int
	for i := range 4 {
		codes = append(codes, getStatus(t, url, http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i)}}))
	}
	if fmt.Sprint(codes) != "[200 200 200 429]" {
		t.Fatalf("untrusted peer with X-Forwarded-For: %v, want [200 200 200 429]", codes)
	}
	d.stop(t)

	trusted := writeConfig(t, dir, "trusted.yaml", "providers: [{builtin: qq.com}]\nhttp:\n  rate_limit: 0.5\n  rate_burst: 3\n  trusted_proxies: [127.0.0.0/8]\n")
	d = startServe(t, "-config", trusted)
	url = "http://" + d.addr["http"] + "/v1.1/qq.com"
	codes = nil
	for i := range 6 { // behind a trusted proxy, each forwarded client has its own budget
		codes = append(codes, getStatus(t, url, http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.9, 198.51.100.%d", i)}}))
	}
	if fmt.Sprint(codes) != "[200 200 200 200 200 200]" {
		t.Fatalf("trusted proxy: %v", codes)
	}
	for range 3 {
		getStatus(t, url, http.Header{"X-Forwarded-For": {"198.51.100.77"}})
	}
	if got := getStatus(t, url, http.Header{"X-Forwarded-For": {"198.51.100.77"}}); got != 429 {
		t.Fatalf("one forwarded client over its budget: %d", got)
	}
	// Reloads apply to these settings too: lift the limit and the client is served again.
	writeConfig(t, dir, "trusted.yaml", "providers: [{builtin: qq.com}]\nhttp:\n  trusted_proxies: [127.0.0.0/8]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "reload", func() bool { return strings.Contains(d.logs.String(), "configuration reloaded") })
	for range 5 {
		if got := getStatus(t, url, http.Header{"X-Forwarded-For": {"198.51.100.77"}}); got != 200 {
			t.Fatalf("after lifting the limit by reload: %d", got)
		}
	}
}

// scrape reads /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, adminAddr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	m, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sample returns the value of the series of family with exactly these labels (-1: none).
func sample(m map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	f, ok := m[family]
	if !ok {
		return -1
	}
next:
	for _, s := range f.Metric {
		if len(s.Label) != len(labels) {
			continue
		}
		for _, l := range s.Label {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case s.Counter != nil:
			return s.Counter.GetValue()
		case s.Gauge != nil:
			return s.Gauge.GetValue()
		case s.Histogram != nil:
			return float64(s.Histogram.GetSampleCount())
		}
	}
	return -1
}

func gauge(m map[string]*dto.MetricFamily, family string, labels map[string]string) float64 {
	return sample(m, family, labels)
}

func TestMetricsAndHealth(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "c.yaml", "providers: [{builtin: qq.com}]\n")
	d := startServe(t, "-config", cfg)
	admin := d.addr["admin"]
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/nothing": 404} {
		if got := getStatus(t, "http://"+admin+path, nil); got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
	before := scrape(t, admin)
	if sample(before, "mailconf_build_info", map[string]string{"version": buildVersion(), "goversion": strings.Fields(buildVersion())[len(strings.Fields(buildVersion()))-1]}) != 1 {
		t.Logf("build info families: %v", before["mailconf_build_info"])
	}
	if _, ok := before["mailconf_build_info"]; !ok {
		t.Error("no build info")
	}
	ok := map[string]string{"endpoint": "autoconfig", "code": "200", "provider": "qq.com"}
	nf := map[string]string{"endpoint": "autoconfig", "code": "404", "provider": ""}
	for range 3 {
		getStatus(t, "http://"+d.addr["http"]+"/v1.1/foxmail.com", nil)
	}
	getStatus(t, "http://"+d.addr["http"]+"/v1.1/unknown.example", nil)
	// DNS queries are counted by type and code.
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	q := new(dns.Msg)
	q.SetQuestion("_imaps._tcp.qq.com.", dns.TypeSRV)
	if _, _, err := c.Exchange(q, d.addr["dns"]); err != nil {
		t.Fatal(err)
	}
	// A reload that works and one that does not.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "reload", func() bool { return strings.Contains(d.logs.String(), "configuration reloaded") })
	writeConfig(t, dir, "c.yaml", "providers: [{builtin: nope}]\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "refusal", func() bool { return strings.Contains(d.logs.String(), "configuration refused") })

	after := scrape(t, admin)
	if got := sample(after, "mailconf_http_requests_total", ok) - max(0, sample(before, "mailconf_http_requests_total", ok)); got != 3 {
		t.Errorf("autoconfig 200 counter moved by %v, want 3", got)
	}
	if got := sample(after, "mailconf_http_requests_total", nf); got != 1 {
		t.Errorf("autoconfig 404 counter %v, want 1", got)
	}
	if got := sample(after, "mailconf_http_request_duration_seconds", map[string]string{"endpoint": "autoconfig"}); got < 4 {
		t.Errorf("latency histogram count %v", got)
	}
	if got := sample(after, "mailconf_dns_queries_total", map[string]string{"qtype": "SRV", "rcode": "NOERROR", "transport": "udp"}); got != 1 {
		t.Errorf("dns counter %v, want 1", got)
	}
	if s, f := sample(after, "mailconf_config_reloads_total", map[string]string{"result": "success"}), sample(after, "mailconf_config_reloads_total", map[string]string{"result": "failure"}); s != 1 || f != 1 {
		t.Errorf("reloads success %v failure %v", s, f)
	}
	// Labels stay bounded: no host, address or path leaks into them.
	for _, f := range after {
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if strings.Contains(l.GetValue(), "unknown.example") || strings.Contains(l.GetValue(), "127.0.0.1") {
					t.Errorf("%s label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// reloadConfig is generation gen of the configuration used under load: the IMAP host
// name carries the generation, so each protocol shows which one it serves.
func reloadConfig(gen int) string {
	return fmt.Sprintf(`providers:
  - id: example.net
    display_name: Example generation %d
    short_name: Example
    domains: [example.net]
    incoming: [{type: imap, hostname: imap-g%d.example.net, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.example.net, port: 465, socket: SSL}]
`, gen, gen)
}

// TestReloadUnderLoad hammers autoconfig, Autodiscover and DNS while the configuration
// is changed and reloaded 20 times, good and bad alternating: no request may fail, each
// good configuration must become visible everywhere, and each bad one must change
// nothing.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "c.yaml", reloadConfig(0))
	d := startServe(t, "-config", cfg)
	httpBase := "http://" + d.addr["http"]

	fetch := map[string]func() (string, error){
		"autoconfig": func() (string, error) {
			return httpBody(httpBase+"/mail/config-v1.1.xml?emailaddress=u%40example.net", "GET", "")
		},
		"autodiscover": func() (string, error) {
			return httpBody(httpBase+"/autodiscover/autodiscover.xml", "POST", `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>u@example.net</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`)
		},
		"dns": func() (string, error) {
			c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
			q := new(dns.Msg)
			q.SetQuestion("_imaps._tcp.example.net.", dns.TypeSRV)
			r, _, err := c.Exchange(q, d.addr["dns"])
			if err != nil {
				return "", err
			}
			if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
				return "", fmt.Errorf("dns rcode %d, %d answers", r.Rcode, len(r.Answer))
			}
			return r.Answer[0].String(), nil
		},
	}
	// genOf extracts the generation from an answer.
	genOf := func(s string) int {
		i := strings.Index(s, "imap-g")
		if i < 0 {
			return -1
		}
		var g int
		fmt.Sscanf(s[i+len("imap-g"):], "%d", &g)
		return g
	}

	var stop atomic.Bool
	var failures, requests atomic.Int64
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for name, f := range fetch {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					requests.Add(1)
					body, err := f()
					if err == nil && genOf(body) < 0 {
						err = fmt.Errorf("answer without a generation: %.200s", body)
					}
					if err != nil {
						failures.Add(1)
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("%s: %w", name, err)
						}
						mu.Unlock()
					}
				}
			}()
		}
	}

	current := 0
	for i := 1; i <= 20; i++ {
		reloadsBefore := strings.Count(d.logs.String(), "configuration reloaded")
		refusedBefore := strings.Count(d.logs.String(), "configuration refused")
		good := i%2 == 1
		if good {
			current = i
			writeConfig(t, dir, "c.yaml", reloadConfig(i))
		} else {
			writeConfig(t, dir, "c.yaml", strings.Replace(reloadConfig(i), "port: 993", "port: 99999", 1))
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("reload %d", i), func() bool {
			if good {
				return strings.Count(d.logs.String(), "configuration reloaded") > reloadsBefore
			}
			return strings.Count(d.logs.String(), "configuration refused") > refusedBefore
		})
		for name, f := range fetch {
			body, err := f()
			if err != nil {
				t.Fatalf("reload %d: %s: %v", i, name, err)
			}
			if g := genOf(body); g != current {
				t.Fatalf("reload %d (good=%v): %s serves generation %d, want %d", i, good, name, g, current)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if failures.Load() > 0 {
		t.Fatalf("%d of %d requests failed; first: %v", failures.Load(), requests.Load(), firstErr)
	}
	t.Logf("%d requests during 20 reloads, none failed", requests.Load())
}

var keepAliveClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}

func httpBody(url, method, body string) (string, error) {
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Host = "autoconfig.example.net"
	resp, err := keepAliveClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), nil
}

// TestShutdownFinishesInFlight starts a request, stops the server the way SIGTERM does
// while the request body is still arriving, and expects a complete answer and exit 0.
func TestShutdownFinishesInFlight(t *testing.T) {
	d := startServe(t)
	conn, err := net.Dial("tcp", d.addr["http"])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>u@qq.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.qq.com\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:half])
	time.Sleep(100 * time.Millisecond) // the server is now reading the body

	stopped := make(chan string, 1)
	go func() { stopped <- d.stop(t) }()
	waitFor(t, 5*time.Second, "shutdown to begin", func() bool { return strings.Contains(d.logs.String(), `"msg":"stopping"`) })
	// New connections are refused while the old request is finished.
	time.Sleep(100 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", d.addr["http"], time.Second); err == nil {
		c.Close()
		t.Error("listener still accepts connections during shutdown")
	}
	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<Server>imap.qq.com</Server>") {
		t.Fatalf("in-flight request: %d %s", resp.StatusCode, b)
	}
	select {
	case <-stopped:
	case <-time.After(15 * time.Second):
		t.Fatal("server did not exit")
	}
}
