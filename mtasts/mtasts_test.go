package mtasts

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/clientrules"
	"github.com/mailconf/mailconf/internal/golden"
)

const testConfig = `
providers:
  - id: secure.example
    display_name: Secure
    domains: [secure.example, alias.example]
    incoming: [{type: imap, hostname: imap.secure.example, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.secure.example, port: 465, socket: SSL}]
    mta_sts:
      mode: enforce
      mx: [mx1.secure.example, "*.mx.secure.example"]
      report_to: mailto:tlsrpt@secure.example
  - id: nopolicy.example
    display_name: No policy
    domains: [nopolicy.example]
    incoming: [{type: imap, hostname: imap.nopolicy.example, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.nopolicy.example, port: 465, socket: SSL}]
`

func servers(t *testing.T) (tlsSrv, plain *httptest.Server) {
	t.Helper()
	cat, err := mailconf.Parse("mtasts.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	h := httpserver.New(httpserver.Options{}, New(cat))
	tlsSrv, plain = httptest.NewTLSServer(h), httptest.NewServer(h)
	t.Cleanup(tlsSrv.Close)
	t.Cleanup(plain.Close)
	return tlsSrv, plain
}

// TestPolicy serves the policy over HTTPS on mta-sts.<d> only, as text/plain, never
// as a redirect, and the body reads back under RFC 8461 §3.2; it matches the golden
// file testdata/policy.golden.
func TestPolicy(t *testing.T) {
	tlsSrv, plain := servers(t)
	noRedirect := func(c *http.Client) *http.Client {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}
	for _, tc := range []struct {
		name, method, host string
		srv                *httptest.Server
		status             int
	}{
		{"policy", http.MethodGet, "mta-sts.secure.example", tlsSrv, 200},
		{"alias", http.MethodGet, "MTA-STS.alias.example:443", tlsSrv, 200},
		{"head", http.MethodHead, "mta-sts.secure.example", tlsSrv, 200},
		{"plain http", http.MethodGet, "mta-sts.secure.example", plain, 404},
		{"not on the domain itself", http.MethodGet, "secure.example", tlsSrv, 404},
		{"no policy", http.MethodGet, "mta-sts.nopolicy.example", tlsSrv, 404},
		{"unknown", http.MethodGet, "mta-sts.other.example", tlsSrv, 404},
		{"post", http.MethodPost, "mta-sts.secure.example", tlsSrv, 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.srv.URL+Path, nil)
			req.Host = tc.host
			resp, err := noRedirect(tc.srv.Client()).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				return
			}
			if resp.Header.Get("Content-Type") != ContentType || resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", resp.Header)
			}
			if tc.method == http.MethodHead {
				return
			}
			p, err := clientrules.MTASTSPolicy(body)
			if err != nil {
				t.Fatalf("%q: %v", body, err)
			}
			if p.Mode != "enforce" || len(p.MX) != 2 || p.MaxAge != 604800 {
				t.Errorf("policy %+v", p)
			}
			golden.Check(t, filepath.Join("testdata", "policy.golden"), body)
		})
	}
}

// TestHostileHost: a Host header that is no name gets a fixed 404 that repeats nothing.
func TestHostileHost(t *testing.T) {
	tlsSrv, _ := servers(t)
	req, _ := http.NewRequest(http.MethodGet, tlsSrv.URL+Path, nil)
	req.Host = "mta-sts.<b>x</b>"
	resp, err := tlsSrv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || strings.Contains(string(body), "<b>") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
}
