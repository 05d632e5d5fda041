package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/smallstep/pkcs7"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// pebbleCA is Pebble, Let's Encrypt's ACME test server, running in the test process.
type pebbleCA struct {
	directory string         // ACME directory URL
	caFile    string         // PEM of the directory's own HTTPS certificate
	roots     *x509.CertPool // roots of the certificates it issues
	rootFile  string         // the same root, in a PEM file
	log       *bytes.Buffer
}

// startPebble starts Pebble with validation against httpPort (HTTP-01) and tlsPort
// (TLS-ALPN-01) on the addresses that resolver (our own DNS server) gives.
func startPebble(t *testing.T, httpPort, tlsPort int, resolver string) *pebbleCA {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random delay before validating
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no deliberately rejected nonces
	t.Setenv("PEBBLE_AUTHZREUSE", "0")      // every order is validated afresh
	var logBuf bytes.Buffer
	logger := log.New(&lockedWriter{w: &logBuf}, "pebble ", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, resolver, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)

	caFile := filepath.Join(t.TempDir(), "pebble-api.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	rootPEM := authority.GetRootCert(0).PEM()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("pebble root")
	}
	rootFile := filepath.Join(filepath.Dir(caFile), "pebble-root.pem")
	if err := os.WriteFile(rootFile, rootPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return &pebbleCA{directory: srv.URL + wfe.DirectoryPath, caFile: caFile, roots: roots, rootFile: rootFile, log: &logBuf}
}

type lockedWriter struct {
	lockedBuffer
	w *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestACME obtains certificates for two domains from Pebble at start-up, before any
// client asks, answering Pebble's TLS-ALPN-01 challenges on the HTTPS listener; then,
// with TLS-ALPN-01 made impossible, through HTTP-01 on the plain listener.
func TestACME(t *testing.T) {
	if testing.Short() {
		t.Skip("ACME issuance runs a CA")
	}
	openssl := needTool(t, "openssl", "openssl")
	for _, mode := range []string{"tls-alpn-01", "http-01"} {
		t.Run(mode, func(t *testing.T) {
			httpPort, httpsPort, dnsPort := freePort(t), freePort(t), freePort(t)
			tlsPort := httpsPort
			if mode == "http-01" {
				tlsPort = freePort(t) // nothing listens there: TLS-ALPN-01 fails, HTTP-01 is next
			}
			dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)
			pebble := startPebble(t, httpPort, tlsPort, dnsAddr)
			dir := t.TempDir()
			cfg := writeConfig(t, dir, "acme.yaml", fmt.Sprintf(`providers:
  - id: example.net
    display_name: Example
    domains: [example.net]
    incoming: [{type: imap, hostname: imap.example.net, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.example.net, port: 465, socket: SSL}]
  - id: example.org
    display_name: Example Org
    domains: [example.org]
    incoming: [{type: imap, hostname: imap.example.org, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.example.org, port: 465, socket: SSL}]
dns:
  addresses: [127.0.0.1]
tls:
  acme:
    directory_url: %s
    ca_file: %s
    state_dir: %s
    email: admin@example.net
    accept_tos: true
`, pebble.directory, pebble.caFile, filepath.Join(dir, "acme")))
			d := startServe(t, "-config", cfg,
				"-http", "127.0.0.1:"+strconv.Itoa(httpPort),
				"-https", "127.0.0.1:"+strconv.Itoa(httpsPort),
				"-dns", dnsAddr)

			names := []string{"autoconfig.example.net", "autodiscover.example.net", "autoconfig.example.org", "autodiscover.example.org"}
			// Issued at start-up: /readyz turns ready once every certificate is there.
			waitFor(t, 60*time.Second, "certificates", func() bool {
				return strings.Contains(d.logs.String(), "ACME certificates")
			})
			if strings.Contains(d.logs.String(), `"msg":"ACME certificates","err"`) {
				t.Fatalf("ACME failed:\n%s\npebble:\n%s", d.logs.String(), pebble.log.String())
			}
			if got := getStatus(t, "http://"+d.addr["admin"]+"/readyz", nil); got != 200 {
				t.Fatalf("/readyz %d after issuance", got)
			}
			for _, name := range names {
				files, _ := filepath.Glob(filepath.Join(dir, "acme", name+"*"))
				if len(files) == 0 {
					t.Errorf("%s: no certificate in the state directory", name)
				}
				client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pebble.roots, ServerName: name}}}
				req, _ := http.NewRequest("GET", "https://127.0.0.1:"+strconv.Itoa(httpsPort)+"/mail/config-v1.1.xml", nil)
				req.Host = name
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				resp.Body.Close()
				if name[:10] == "autoconfig" && resp.StatusCode != 200 {
					t.Errorf("%s: status %d", name, resp.StatusCode)
				}
			}
			// The Apple profile asked on autoconfig.example.org is signed with that name's
			// certificate (checked by the CMS library on the client side of this test).
			req, _ := http.NewRequest("GET", "http://"+d.addr["http"]+"/email.mobileconfig?emailaddress=a%40example.org", nil)
			req.Host = "autoconfig.example.org"
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			signed, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			p7, err := pkcs7.Parse(signed)
			if err != nil {
				t.Fatalf("profile is not CMS SignedData: %v", err)
			}
			if err := p7.VerifyWithChain(pebble.roots); err != nil {
				t.Errorf("profile signature: %v", err)
			}
			if signer := p7.GetOnlySigner(); signer == nil || len(signer.DNSNames) == 0 || signer.DNSNames[0] != "autoconfig.example.org" {
				t.Errorf("profile signed by %v", signer)
			}
			// And by OpenSSL, which must find the intermediate in the signature.
			verifyProfileWithOpenSSL(t, openssl, signed, pebble.rootFile, "autoconfig.example.org", "a@example.org")
			// Names outside the configuration get no certificate.
			_, err = tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpsPort), &tls.Config{RootCAs: pebble.roots, ServerName: "autoconfig.unknown.example"})
			if err == nil {
				t.Error("a certificate was served for an unconfigured name")
			}
			m := scrape(t, d.addr["admin"])
			for _, name := range names {
				if v := gauge(m, "mailconf_tls_certificate_expiry_timestamp_seconds", map[string]string{"name": name}); v < float64(time.Now().Unix()) {
					t.Errorf("%s: expiry metric %v", name, v)
				}
			}
			// Pebble logs its HTTP-01 attempts only; TLS-ALPN-01 validations are silent.
			usedHTTP := strings.Contains(pebble.log.String(), "Attempting to validate w/ HTTP")
			if usedHTTP != (mode == "http-01") {
				t.Errorf("%s: HTTP-01 attempted: %v", mode, usedHTTP)
			}
		})
	}
}
