package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailconf/mailconf/internal/check"
)

// checkYAML is a domain set up correctly: IMAP, POP3 and SMTP over implicit TLS, the
// Autodiscover URL, and addresses for autoconfig.example.net and
// autodiscover.example.net in mailconf's own DNS zone.
const checkYAML = `providers:
  - id: example.net
    display_name: Example Mail
    domains: [example.net]
    incoming:
      - {type: imap, hostname: imap.example.net, port: 993, socket: SSL}
      - {type: pop3, hostname: pop.example.net, port: 995, socket: SSL}
    outgoing:
      - {type: smtp, hostname: smtp.example.net, port: 465, socket: SSL}
autodiscover:
  url: https://autodiscover.example.net/autodiscover/autodiscover.xml
dns:
  addresses: [127.0.0.1]
`

// checkSetup is a test CA, its root in a file for -ca, and the configuration.
type checkSetup struct {
	dir, caFile, config string
	ca                  *testCA
}

func newCheckSetup(t *testing.T) *checkSetup {
	t.Helper()
	s := &checkSetup{dir: t.TempDir(), ca: newTestCA(t)}
	s.caFile = filepath.Join(s.dir, "ca.pem")
	if err := os.WriteFile(s.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s.config = writeConfig(t, s.dir, "mailconf.yaml", checkYAML)
	return s
}

// cert issues a certificate for names valid in [notBefore, notAfter] and returns the
// paths of the certificate and key files.
func (s *checkSetup) cert(t *testing.T, name string, notBefore, notAfter time.Time, names ...string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.ca.cert, &key.PublicKey, s.ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath := filepath.Join(s.dir, name+".pem"), filepath.Join(s.dir, name+".key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// goodCert is valid for every name clients ask over HTTPS, for 90 days.
func (s *checkSetup) goodCert(t *testing.T) (string, string) {
	return s.cert(t, "good", time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "autoconfig.example.net", "autodiscover.example.net", "example.net")
}

// serveHTTPS runs `mailconf serve` with HTTP, HTTPS and DNS on loopback.
func (s *checkSetup) serveHTTPS(t *testing.T, certPath, keyPath string) *testDaemon {
	t.Helper()
	return startServe(t, "-config", s.config, "-https", "127.0.0.1:0", "-tls-cert", certPath, "-tls-key", keyPath, "-admin", "")
}

// checkArgs are the flags that point check at a test deployment: its DNS server, every
// connection to port 443 and 80 sent to its listeners, the test CA trusted.
func (s *checkSetup) checkArgs(dnsAddr, httpsAddr, httpAddr string) []string {
	return []string{"-resolver", dnsAddr, "-connect-to", ":443:" + httpsAddr, "-connect-to", ":80:" + httpAddr, "-ca", s.caFile, "-timeout", "5s"}
}

// runCheck runs `mailconf check` with args and returns its exit status, its JSON
// report when -json is among args, and its output.
func runCheckCmd(t *testing.T, args ...string) (int, check.Report, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"check"}, args...), &out, &errb)
	var r check.Report
	for _, a := range args {
		if a == "-json" {
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("exit %d, not JSON: %v\n%s\n%s", code, err, out.String(), errb.String())
			}
		}
	}
	return code, r, out.String(), errb.String()
}

// stepOf returns the step with the id, failing the test when there is none.
func stepOf(t *testing.T, r check.Report, id string) check.Step {
	t.Helper()
	for _, f := range r.Families {
		for _, s := range f.Steps {
			if s.ID == id {
				return s
			}
		}
	}
	t.Fatalf("no step %s in the report", id)
	return check.Step{}
}

// wantStep asserts a step's status and problem, and that a warning or failure says
// how to fix it.
func wantStep(t *testing.T, r check.Report, id string, status check.Status, problem string) check.Step {
	t.Helper()
	s := stepOf(t, r, id)
	if s.Status != status || s.Problem != problem {
		t.Errorf("%s: %s %q (%s), want %s %q", id, s.Status, s.Problem, s.Found, status, problem)
	}
	if (status == check.StatusWarn || status == check.StatusFail) && s.Fix == "" {
		t.Errorf("%s: no fix line", id)
	}
	return s
}

// familyOK returns the family's ok.
func familyOK(t *testing.T, r check.Report, name string) bool {
	t.Helper()
	for _, f := range r.Families {
		if f.Name == name {
			return f.OK
		}
	}
	t.Fatalf("no family %s", name)
	return false
}

// checkReportSound asserts what every report holds: every step has found text, every
// warning and failure a problem and a fix, no message is missing or misformatted.
func checkReportSound(t *testing.T, r check.Report, text string) {
	t.Helper()
	for _, f := range r.Families {
		if f.Title == "" {
			t.Errorf("family %s has no title", f.Name)
		}
		for _, s := range f.Steps {
			if s.Found == "" || s.Asked == "" {
				t.Errorf("%s: asked %q found %q", s.ID, s.Asked, s.Found)
			}
			if (s.Status == check.StatusWarn || s.Status == check.StatusFail) && (s.Problem == "" || s.Fix == "") {
				t.Errorf("%s: %s without problem or fix: %+v", s.ID, s.Status, s)
			}
		}
	}
	for _, bad := range []string{"!(", "%!", "<nil>"} {
		if strings.Contains(text, bad) {
			t.Errorf("report holds %q:\n%s", bad, text)
		}
	}
}

// TestCheckCorrect runs check against a correctly set up deployment: every client
// family gets working settings, in both languages, as text and as JSON.
func TestCheckCorrect(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	args := s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"])

	code, r, out, errOut := runCheckCmd(t, append(args, "-json", "alice@example.net")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	checkReportSound(t, r, out)
	if r.Version != check.SchemaVersion || r.Domain != "example.net" || r.Address != "alice@example.net" || !r.Summary.OK || r.Summary.Counts.Fail != 0 {
		t.Errorf("report header %+v %+v", r, r.Summary)
	}
	for _, id := range []string{
		"autoconfig.autoconfig-https", "autoconfig.autoconfig-https-noaddress", "autoconfig.wellknown-https", "autoconfig.wellknown-https-noaddress",
		"autoconfig.autoconfig-http", "autoconfig.wellknown-http", "autoconfig.mail-v1", "autoconfig.ispdb",
		"outlook.json", "outlook.pox-domain", "outlook.pox-autodiscover", "outlook.redirect", "outlook.srv",
		"srv.imaps", "srv.pop3s", "srv.submissions", "srv.imap", "srv.usable",
		"apple.profile", "apple.setup", "agreement.incoming", "agreement.outgoing", "agreement.servers",
		"tls.autoconfig", "tls.autodiscover", "tls.domain", "dns.autoconfig", "dns.autodiscover",
	} {
		wantStep(t, r, id, check.StatusOK, "")
	}
	// mailconf serves no MX; without -connect and -config those are skipped.
	wantStep(t, r, "dns.mx", check.StatusWarn, "no-mx")
	wantStep(t, r, "server.connect", check.StatusSkip, "")
	wantStep(t, r, "config.file", check.StatusSkip, "")
	if s := stepOf(t, r, "autoconfig.autoconfig-https"); s.Found != "IMAP imap.example.net:993 SSL, POP3 pop.example.net:995 SSL, SMTP smtp.example.net:465 SSL" {
		t.Errorf("autoconfig found %q", s.Found)
	}
	if s := stepOf(t, r, "apple.profile"); !strings.Contains(s.Found, "signed by autoconfig.example.net") {
		t.Errorf("profile found %q", s.Found)
	}
	if s := stepOf(t, r, "dns.autoconfig"); s.Found != "A 127.0.0.1" {
		t.Errorf("dns found %q", s.Found)
	}

	// Text, in English and Chinese; the target may come before the flags, and a domain
	// alone is checked with postmaster@.
	code, _, out, _ = runCheckCmd(t, append([]string{"example.net", "-lang", "en"}, args...)...)
	if code != 0 || !strings.Contains(out, "✓ Outlook (Autodiscover)") || !strings.Contains(out, "Every client gets working settings") || !strings.Contains(out, "postmaster%40example.net") {
		t.Errorf("text report, exit %d:\n%s", code, out)
	}
	checkReportSound(t, r, out)
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	code, _, out, _ = runCheckCmd(t, append(args, "alice@example.net")...)
	if code != 0 || !strings.Contains(out, "所有客户端都能获得可用的设置") || !strings.Contains(out, "没有 MX 记录") {
		t.Errorf("Chinese report, exit %d:\n%s", code, out)
	}
	checkReportSound(t, r, out)
}

// TestCheckHTTPSDown finds a deployment without HTTPS: clients that ask only over
// HTTPS (Outlook, Delta Chat, FairEmail, Apple devices) get nothing.
func TestCheckHTTPSDown(t *testing.T) {
	s := newCheckSetup(t)
	d := startServe(t, "-config", s.config, "-admin", "")
	closed := closedPort(t)
	code, r, out, _ := runCheckCmd(t, append(s.checkArgs(d.addr["dns"], closed, d.addr["http"]), "-json", "alice@example.net")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkReportSound(t, r, out)
	st := wantStep(t, r, "autoconfig.autoconfig-https", check.StatusFail, "refused")
	if !strings.Contains(st.Fix, "-https") {
		t.Errorf("fix %q does not name the HTTPS listener", st.Fix)
	}
	wantStep(t, r, "outlook.pox-autodiscover", check.StatusFail, "refused")
	wantStep(t, r, "apple.profile", check.StatusFail, "refused")
	// Clients without the address move on to HTTP, which works.
	wantStep(t, r, "autoconfig.autoconfig-https-noaddress", check.StatusWarn, "refused")
	wantStep(t, r, "autoconfig.autoconfig-http", check.StatusOK, "")
	wantStep(t, r, "tls.autoconfig", check.StatusSkip, "")
	if familyOK(t, r, "outlook") || familyOK(t, r, "autoconfig") || !familyOK(t, r, "srv") {
		t.Errorf("families: %+v", r.Summary)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCheckDNSBreakage checks against DNS zones published from other settings than the
// HTTP answers, as when records are copied by hand: one port wrong, one record
// missing, the zone not served at all.
func TestCheckDNSBreakage(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	dnsOnly := func(yaml string) string {
		cfg := writeConfig(t, t.TempDir(), "dns.yaml", yaml)
		return startServe(t, "-config", cfg, "-http", "", "-admin", "").addr["dns"]
	}

	t.Run("wrong port in SRV", func(t *testing.T) {
		dns := dnsOnly(strings.Replace(checkYAML, "port: 993", "port: 1993", 1))
		code, r, out, _ := runCheckCmd(t, append(s.checkArgs(dns, d.addr["https"], d.addr["http"]), "-json", "alice@example.net")...)
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		checkReportSound(t, r, out)
		st := wantStep(t, r, "agreement.incoming", check.StatusFail, "disagree")
		if !strings.Contains(st.Found, "SRV: IMAP imap.example.net:1993 SSL") || !strings.Contains(st.Fix, "_imaps._tcp.example.net. 3600 IN SRV 0 1 993 imap.example.net.") {
			t.Errorf("agreement.incoming: %+v", st)
		}
		wantStep(t, r, "agreement.servers", check.StatusFail, "disagree")
		wantStep(t, r, "agreement.outgoing", check.StatusOK, "")
		wantStep(t, r, "srv.imaps", check.StatusOK, "")
	})
	t.Run("missing SRV", func(t *testing.T) {
		dns := dnsOnly(strings.Replace(checkYAML, "      - {type: pop3, hostname: pop.example.net, port: 995, socket: SSL}\n", "", 1))
		code, r, out, _ := runCheckCmd(t, append(s.checkArgs(dns, d.addr["https"], d.addr["http"]), "-json", "alice@example.net")...)
		if code != 0 {
			t.Fatalf("exit %d, want 0: RFC 6186 clients still get IMAP and SMTP", code)
		}
		checkReportSound(t, r, out)
		st := wantStep(t, r, "srv.pop3s", check.StatusWarn, "srv-missing")
		if !strings.Contains(st.Fix, "_pop3s._tcp.example.net. 3600 IN SRV 10 1 995 pop.example.net.") {
			t.Errorf("fix %q", st.Fix)
		}
	})
	t.Run("zone not served", func(t *testing.T) {
		dns := dnsOnly("providers: [{builtin: qq.com}]\n")
		code, r, out, _ := runCheckCmd(t, append(s.checkArgs(dns, d.addr["https"], d.addr["http"]), "-json", "alice@example.net")...)
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		checkReportSound(t, r, out)
		wantStep(t, r, "srv.imaps", check.StatusFail, "dns-error")
		st := wantStep(t, r, "srv.usable", check.StatusFail, "srv-no-incoming")
		if !strings.Contains(st.Fix, "_imaps._tcp.example.net. 3600 IN SRV 0 1 993 imap.example.net.") || !strings.Contains(st.Fix, "_submissions._tcp.example.net.") {
			t.Errorf("fix %q", st.Fix)
		}
		wantStep(t, r, "dns.autoconfig", check.StatusFail, "dns-error")
	})
}

// TestCheckCertificates serves certificates clients refuse, and one about to expire.
func TestCheckCertificates(t *testing.T) {
	s := newCheckSetup(t)
	now := time.Now()
	for _, tc := range []struct {
		name                string
		notBefore, notAfter time.Time
		names               []string
		wantCode            int
		check               func(t *testing.T, r check.Report)
	}{
		{"expired", now.Add(-60 * 24 * time.Hour), now.Add(-24 * time.Hour), []string{"autoconfig.example.net", "autodiscover.example.net", "example.net"}, 1, func(t *testing.T, r check.Report) {
			st := wantStep(t, r, "tls.autoconfig", check.StatusFail, "cert-expired")
			if !strings.Contains(st.Fix, "renew") {
				t.Errorf("fix %q", st.Fix)
			}
			wantStep(t, r, "autoconfig.autoconfig-https", check.StatusFail, "cert-expired")
			wantStep(t, r, "outlook.pox-autodiscover", check.StatusFail, "cert-expired")
		}},
		{"wrong name", now.Add(-time.Hour), now.Add(90 * 24 * time.Hour), []string{"autoconfig.example.net", "example.net"}, 1, func(t *testing.T, r check.Report) {
			st := wantStep(t, r, "tls.autodiscover", check.StatusFail, "cert-name")
			if !strings.Contains(st.Found, "autodiscover.example.net") || !strings.Contains(st.Fix, "autodiscover.example.net") {
				t.Errorf("tls.autodiscover: %+v", st)
			}
			wantStep(t, r, "tls.autoconfig", check.StatusOK, "")
			// Outlook finds its settings on the domain itself first, so the failing
			// host only costs it time.
			wantStep(t, r, "outlook.pox-domain", check.StatusOK, "")
			wantStep(t, r, "outlook.pox-autodiscover", check.StatusWarn, "cert-name")
		}},
		{"expiring", now.Add(-80 * 24 * time.Hour), now.Add(3 * 24 * time.Hour), []string{"autoconfig.example.net", "autodiscover.example.net", "example.net"}, 0, func(t *testing.T, r check.Report) {
			wantStep(t, r, "tls.autoconfig", check.StatusWarn, "cert-expiring")
			wantStep(t, r, "autoconfig.autoconfig-https", check.StatusOK, "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPath, keyPath := s.cert(t, strings.ReplaceAll(tc.name, " ", "-"), tc.notBefore, tc.notAfter, tc.names...)
			d := s.serveHTTPS(t, certPath, keyPath)
			code, r, out, _ := runCheckCmd(t, append(s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"]), "-json", "alice@example.net")...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s", code, tc.wantCode, out)
			}
			checkReportSound(t, r, out)
			tc.check(t, r)
		})
	}
}

// TestCheckSeedMistake puts a server in front of autoconfig.example.net that serves an
// autoconfig document with IMAP on port 995, a mistake copied from guides, and passes
// everything else on to mailconf.
func TestCheckSeedMistake(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	resp, err := http.Get("http://" + d.addr["http"] + "/v1.1/example.net")
	if err != nil {
		t.Fatal(err)
	}
	good, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	doctored := bytes.Replace(good, []byte("<port>993</port>"), []byte("<port>995</port>"), 1)
	if bytes.Equal(good, doctored) {
		t.Fatal("nothing to doctor")
	}
	mailconfHTTP, _ := url.Parse("http://" + d.addr["http"])
	proxy := httputil.NewSingleHostReverseProxy(mailconfHTTP)
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".xml") || strings.HasPrefix(r.URL.Path, "/v1.1/") {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.Write(doctored)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	front.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	front.StartTLS()
	defer front.Close()

	args := append([]string{"-connect-to", "autoconfig.example.net:443:" + front.Listener.Addr().String()}, s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"])...)
	code, r, out, _ := runCheckCmd(t, append(args, "-json", "alice@example.net")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkReportSound(t, r, out)
	st := wantStep(t, r, "autoconfig.autoconfig-https", check.StatusFail, "mistake-port-of-another-protocol")
	if !strings.Contains(st.Found, "IMAP on imap.example.net port 995, which is POP3's port") || !strings.Contains(st.Fix, "IMAP with SSL uses port 993") {
		t.Errorf("mistake: %+v", st)
	}
	// Clients accept the document, so they do not move on: the mistake stays a failure.
	wantStep(t, r, "autoconfig.autoconfig-https-noaddress", check.StatusFail, "mistake-port-of-another-protocol")
	wantStep(t, r, "autoconfig.wellknown-https", check.StatusOK, "")
	wantStep(t, r, "agreement.incoming", check.StatusFail, "disagree")
	wantStep(t, r, "apple.profile", check.StatusOK, "")
}

// serveConns runs handle on every connection to a loopback port, each with a 5 s
// deadline, until the test ends, and returns the port's address.
func serveConns(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// mailListener serves a greeting on a loopback port, over TLS with cert when it is set,
// to each connection, and reads until the client leaves.
func mailListener(t *testing.T, greeting string, cert *tls.Certificate) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		if cert != nil {
			c = tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
		}
		io.WriteString(c, greeting+"\r\n")
		io.Copy(io.Discard, io.LimitReader(c, 1<<10))
	})
}

// TestCheckConnect opens the mail servers' ports with -connect: TLS handshakes, the
// certificates and the greetings; then a port that speaks another protocol and one
// without TLS.
func TestCheckConnect(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	mc, mk := s.cert(t, "mail", time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "imap.example.net", "pop.example.net", "smtp.example.net")
	pair, err := tls.LoadX509KeyPair(mc, mk)
	if err != nil {
		t.Fatal(err)
	}
	imap := mailListener(t, "* OK [CAPABILITY IMAP4rev1] ready", &pair)
	pop := mailListener(t, "+OK POP3 ready", &pair)
	smtp := mailListener(t, "220 smtp.example.net ESMTP", &pair)
	plain := mailListener(t, "220 smtp.example.net ESMTP", nil)
	base := s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"])

	code, r, out, _ := runCheckCmd(t, append(base, "-connect", "-connect-to", ":993:"+imap, "-connect-to", ":995:"+pop, "-connect-to", ":465:"+smtp, "-json", "alice@example.net")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	checkReportSound(t, r, out)
	st := wantStep(t, r, "server.imap.imap.example.net:993", check.StatusOK, "")
	if !strings.Contains(st.Found, "* OK") || !strings.Contains(st.Found, "TLS 1.3") {
		t.Errorf("imap: %+v", st)
	}
	wantStep(t, r, "server.pop3.pop.example.net:995", check.StatusOK, "")
	wantStep(t, r, "server.smtp.smtp.example.net:465", check.StatusOK, "")

	// POP3 answers on the IMAP port; port 465 speaks without TLS.
	code, r, out, _ = runCheckCmd(t, append(base, "-connect", "-connect-to", ":993:"+pop, "-connect-to", ":995:"+pop, "-connect-to", ":465:"+plain, "-json", "alice@example.net")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	checkReportSound(t, r, out)
	st = wantStep(t, r, "server.imap.imap.example.net:993", check.StatusFail, "wrong-protocol")
	if !strings.Contains(st.Found, "POP3") {
		t.Errorf("imap: %+v", st)
	}
	wantStep(t, r, "server.smtp.smtp.example.net:465", check.StatusFail, "no-tls")
	if familyOK(t, r, "servers") {
		t.Error("servers family ok")
	}
}

// starttlsListener is an SMTP server on a loopback port that offers STARTTLS (RFC 3207)
// with cert, or refuses it when cert is nil.
func starttlsListener(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		rd := bufio.NewReader(c)
		io.WriteString(c, "220 smtp.example.net ESMTP\r\n")
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"):
				io.WriteString(c, "250-smtp.example.net\r\n250 STARTTLS\r\n")
			case cmd == "STARTTLS" && cert != nil:
				io.WriteString(c, "220 go ahead\r\n")
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
				tc.Handshake()
				io.Copy(io.Discard, io.LimitReader(tc, 1<<10))
				return
			case cmd == "STARTTLS":
				io.WriteString(c, "454 4.7.0 TLS not available\r\n")
			default:
				io.WriteString(c, "221 bye\r\n")
				return
			}
		}
	})
}

// TestCheckConnectSTARTTLS opens a submission port with STARTTLS, then one that
// refuses it.
func TestCheckConnectSTARTTLS(t *testing.T) {
	s := newCheckSetup(t)
	s.config = writeConfig(t, s.dir, "starttls.yaml", strings.Replace(checkYAML, "port: 465, socket: SSL", "port: 587, socket: STARTTLS", 1))
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	mc, mk := s.cert(t, "mail", time.Now().Add(-time.Hour), time.Now().Add(90*24*time.Hour), "smtp.example.net")
	pair, err := tls.LoadX509KeyPair(mc, mk)
	if err != nil {
		t.Fatal(err)
	}
	base := append(s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"]), "-connect", "-connect-to", ":993:"+closedPort(t), "-connect-to", ":995:"+closedPort(t), "-json", "alice@example.net")

	_, r, out, _ := runCheckCmd(t, append([]string{"-connect-to", ":587:" + starttlsListener(t, &pair)}, base...)...)
	checkReportSound(t, r, out)
	if st := wantStep(t, r, "server.smtp.smtp.example.net:587", check.StatusOK, ""); !strings.Contains(st.Found, "220 smtp.example.net ESMTP") || !strings.Contains(st.Found, "TLS 1.3") {
		t.Errorf("STARTTLS: %+v", st)
	}
	wantStep(t, r, "server.imap.imap.example.net:993", check.StatusFail, "refused")

	_, r, out, _ = runCheckCmd(t, append([]string{"-connect-to", ":587:" + starttlsListener(t, nil)}, base...)...)
	checkReportSound(t, r, out)
	if st := wantStep(t, r, "server.smtp.smtp.example.net:587", check.StatusFail, "starttls-refused"); !strings.Contains(st.Found, "454") {
		t.Errorf("refused STARTTLS: %+v", st)
	}
}

// TestCheckConfig compares what is published with a configuration file.
func TestCheckConfig(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	base := s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"])

	code, r, out, _ := runCheckCmd(t, append(base, "-config", s.config, "-json", "alice@example.net")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	checkReportSound(t, r, out)
	for _, id := range []string{"config.file", "config.autoconfig", "config.outlook", "config.srv", "config.profile", "config.names"} {
		wantStep(t, r, id, check.StatusOK, "")
	}

	// The file on disk was changed and mailconf not reloaded.
	changed := writeConfig(t, t.TempDir(), "changed.yaml", strings.Replace(checkYAML, "port: 465", "port: 587, socket: STARTTLS}\n      #", 1))
	code, r, out, _ = runCheckCmd(t, append(base, "-config", changed, "-json", "alice@example.net")...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	checkReportSound(t, r, out)
	st := wantStep(t, r, "config.autoconfig", check.StatusFail, "config-differs")
	if !strings.Contains(st.Found, "SMTP smtp.example.net:587 STARTTLS") || !strings.Contains(st.Fix, "reload") {
		t.Errorf("config.autoconfig: %+v", st)
	}
	wantStep(t, r, "config.srv", check.StatusFail, "config-differs")
	wantStep(t, r, "config.outlook", check.StatusFail, "config-differs")

	other := writeConfig(t, t.TempDir(), "other.yaml", "providers: [{builtin: qq.com}]\n")
	_, r, _, _ = runCheckCmd(t, append(base, "-config", other, "-json", "alice@example.net")...)
	wantStep(t, r, "config.file", check.StatusFail, "config-domain")
}

// TestCheckUsage: a wrong command line exits 2 before any request.
func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-nope", "example.net"},
		{"not a domain!"},
		{"a@"},
		{"example.net", "example.org"},
		{"-connect-to", "a:b", "example.net"},
		{"-connect-to", "a:99999::", "example.net"},
		{"-lang", "fr", "example.net"},
		{"-timeout", "0s", "example.net"},
		{"-ca", "/nonexistent", "example.net"},
	} {
		code, _, _, errOut := runCheckCmd(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, errOut)
		}
	}
	if code, _, _, errOut := runCheckCmd(t, "-h"); code != 0 || !strings.Contains(errOut, "-connect-to") {
		t.Errorf("-h: exit %d\n%s", code, errOut)
	}
}

// The report as docs/check.md documents it, written here apart from the types that
// produce it: pointers tell a missing field from a zero one.
type (
	schemaReport struct {
		Version  *int            `json:"version"`
		Target   *string         `json:"target"`
		Domain   *string         `json:"domain"`
		Address  *string         `json:"address"`
		Lang     *string         `json:"lang"`
		Started  *time.Time      `json:"started"`
		Families *[]schemaFamily `json:"families"`
		Summary  *schemaSummary  `json:"summary"`
	}
	schemaFamily struct {
		Name  *string       `json:"name"`
		Title *string       `json:"title"`
		OK    *bool         `json:"ok"`
		Steps *[]schemaStep `json:"steps"`
	}
	schemaStep struct {
		ID      *string `json:"id"`
		Status  *string `json:"status"`
		Asked   *string `json:"asked"`
		Found   *string `json:"found"`
		Problem *string `json:"problem"`
		Fix     *string `json:"fix"`
	}
	schemaSummary struct {
		OK     *bool     `json:"ok"`
		Failed *[]string `json:"failed"`
		Counts *struct {
			OK   *int `json:"ok"`
			Warn *int `json:"warn"`
			Fail *int `json:"fail"`
			Skip *int `json:"skip"`
		} `json:"counts"`
	}
)

// documentedFields reads the JSON table of docs/check.md: field path → presence.
func documentedFields(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/check.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## JSON\n")
	if !ok {
		t.Fatal("docs/check.md has no JSON section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	fields := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		fields[strings.Trim(strings.TrimSpace(cells[1]), "`")] = strings.TrimSpace(cells[3])
	}
	if len(fields) < 20 {
		t.Fatalf("read only %d fields from docs/check.md", len(fields))
	}
	return fields
}

// jsonPaths lists the field paths of a decoded JSON value, arrays as [].
func jsonPaths(prefix string, v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out[p] = true
			jsonPaths(p, e, out)
		}
	case []any:
		for _, e := range v {
			jsonPaths(prefix+"[]", e, out)
		}
	}
}

// TestCheckJSONSchema reads -json output of a working and a broken deployment back
// against docs/check.md: every field documented and of the documented type, every
// field documented as always present there, problem and fix exactly with warn and
// fail, and the counts adding up.
func TestCheckJSONSchema(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	docs := documentedFields(t)
	for name, args := range map[string][]string{
		"working":    s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"]),
		"no HTTPS":   s.checkArgs(d.addr["dns"], closedPort(t), d.addr["http"]),
		"with flags": append(s.checkArgs(d.addr["dns"], d.addr["https"], d.addr["http"]), "-connect", "-config", s.config, "-lang", "zh-CN"),
	} {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			run(context.Background(), append(append([]string{"check", "-json"}, args...), "alice@example.net"), &out, &errb)
			dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
			dec.DisallowUnknownFields()
			var r schemaReport
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("not the documented schema: %v\n%s", err, out.String())
			}
			if dec.More() {
				t.Error("more than one JSON value")
			}
			var generic any
			json.Unmarshal(out.Bytes(), &generic)
			paths := map[string]bool{}
			jsonPaths("", generic, paths)
			for p := range paths {
				if _, ok := docs[p]; !ok {
					t.Errorf("field %s is not documented in docs/check.md", p)
				}
			}
			for p, presence := range docs {
				if presence == "always" && !paths[p] {
					t.Errorf("field %s, documented as always present, is missing", p)
				}
			}
			if r.Version == nil || *r.Version != 1 || *r.Lang != map[bool]string{true: "zh-CN", false: "en"}[name == "with flags"] || *r.Domain != "example.net" || r.Started.IsZero() {
				t.Errorf("header: version %v lang %v domain %v started %v", *r.Version, *r.Lang, *r.Domain, r.Started)
			}
			wantNames := []string{"autoconfig", "outlook", "srv", "apple", "agreement", "tls", "dns", "servers", "config"}
			if len(*r.Families) != len(wantNames) {
				t.Fatalf("%d families, want %d", len(*r.Families), len(wantNames))
			}
			counts := map[string]int{}
			var failed []string
			for i, f := range *r.Families {
				if *f.Name != wantNames[i] || *f.Title == "" || len(*f.Steps) == 0 {
					t.Errorf("family %d: %s %q, %d steps", i, *f.Name, *f.Title, len(*f.Steps))
				}
				ok := true
				for _, st := range *f.Steps {
					prefix := *f.Name
					if prefix == "servers" {
						prefix = "server"
					}
					if !strings.HasPrefix(*st.ID, prefix+".") {
						t.Errorf("step %s in family %s", *st.ID, *f.Name)
					}
					switch *st.Status {
					case "ok", "skip":
						if st.Problem != nil || st.Fix != nil {
							t.Errorf("%s: %s with problem or fix", *st.ID, *st.Status)
						}
					case "warn", "fail":
						if st.Problem == nil || *st.Problem == "" || st.Fix == nil || *st.Fix == "" {
							t.Errorf("%s: %s without problem or fix", *st.ID, *st.Status)
						}
					default:
						t.Errorf("%s: status %q", *st.ID, *st.Status)
					}
					if *st.Status == "fail" {
						ok = false
					}
					counts[*st.Status]++
				}
				if *f.OK != ok {
					t.Errorf("family %s: ok %v, steps say %v", *f.Name, *f.OK, ok)
				}
				if !ok {
					failed = append(failed, *f.Name)
				}
			}
			c := r.Summary.Counts
			if *c.OK != counts["ok"] || *c.Warn != counts["warn"] || *c.Fail != counts["fail"] || *c.Skip != counts["skip"] {
				t.Errorf("counts %d/%d/%d/%d, steps %v", *c.OK, *c.Warn, *c.Fail, *c.Skip, counts)
			}
			if *r.Summary.OK != (len(failed) == 0) || strings.Join(*r.Summary.Failed, ",") != strings.Join(failed, ",") {
				t.Errorf("summary ok %v failed %v, families say %v", *r.Summary.OK, *r.Summary.Failed, failed)
			}
		})
	}
}

// blackhole accepts connections on a loopback port and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String()
}

// TestCheckTimeouts: servers that accept and never answer cost each step its timeout,
// and the whole run its own.
func TestCheckTimeouts(t *testing.T) {
	s := newCheckSetup(t)
	d := startServe(t, "-config", s.config, "-admin", "")
	hole := blackhole(t)
	args := append(s.checkArgs(d.addr["dns"], hole, d.addr["http"]), "-timeout", "300ms", "-connect", "-connect-to", ":993:"+hole, "-json", "alice@example.net")
	code, r, out, _ := runCheckCmd(t, args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkReportSound(t, r, out)
	wantStep(t, r, "autoconfig.autoconfig-https", check.StatusFail, "timeout")
	wantStep(t, r, "outlook.pox-autodiscover", check.StatusFail, "timeout")
	wantStep(t, r, "server.imap.imap.example.net:993", check.StatusFail, "timeout")
	wantStep(t, r, "autoconfig.autoconfig-http", check.StatusOK, "")

	// The whole run's limit stops steps whose own would let them wait longer.
	args = append(s.checkArgs(d.addr["dns"], hole, d.addr["http"]), "-timeout", "1m", "-total-timeout", "500ms", "-json", "alice@example.net")
	code, r, out, _ = runCheckCmd(t, args...)
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	checkReportSound(t, r, out)
	if st := wantStep(t, r, "autoconfig.autoconfig-https", check.StatusFail, "timeout"); !strings.Contains(st.Found, "-total-timeout") {
		t.Errorf("found %q does not name the run's limit", st.Found)
	}
}
