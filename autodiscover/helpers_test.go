package autodiscover

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/clientrules"
	"github.com/mailconf/mailconf/internal/parallel"
)

// Deterministic Time and Id attributes for tests and golden files.
var fixedTime = time.Date(2025, 11, 26, 21, 25, 4, 889708300, time.UTC)

const fixedID = 4130155072

// testYAML is a second deployment: QQ Mail plus a provider with STARTTLS and plain
// servers, per-server username patterns, a literal username that needs escaping,
// a configured Autodiscover URL, the mobilesync IMAP switch and a TTL.
const testYAML = `
providers:
  - builtin: qq.com
  - id: example.net
    display_name: Example Mail
    domains: [example.net, example.org]
    incoming:
      - type: imap
        hostname: imap.example.net
        port: 143
        socket: STARTTLS
        username: "%EMAILLOCALPART%"
      - type: pop3
        hostname: pop.example.net
        port: 110
        socket: plain
        username: "pop&\"box'<1>"
    outgoing:
      - type: smtp
        hostname: smtp.example.net
        port: 587
        socket: STARTTLS
        username: "%EMAILLOCALPART%"
      - type: smtp
        hostname: relay.example.net
        port: 25
        socket: plain
        authentication: none
        username: "%EMAILDOMAIN%"
autodiscover:
  url: https://autodiscover.example.net/autodiscover/autodiscover.xml
  mobilesync_answer: imap
  ttl: 24
`

func qqCatalog(t testing.TB) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func testCatalog(t testing.TB) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Parse("test.yaml", []byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// newTestHandler returns a Handler with the deterministic clock and Id.
func newTestHandler(t testing.TB, cat *mailconf.Catalog) *Handler {
	t.Helper()
	h, err := New(cat)
	if err != nil {
		t.Fatal(err)
	}
	h.now = func() time.Time { return fixedTime }
	h.serverID = fixedID
	return h
}

// noted records NoteDomain calls, as the project's request logger receives them.
type noted struct {
	mu    sync.Mutex
	calls []string
}

func (n *noted) add(s string) { n.mu.Lock(); n.calls = append(n.calls, s); n.mu.Unlock() }

func (n *noted) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.calls)
}

func (n *noted) last() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.calls) == 0 {
		return ""
	}
	return n.calls[len(n.calls)-1]
}

// notingLog records, from the request log of the HTTP stack, the configured domain
// each request resolved to, with the provider its observer saw.
type notingLog struct {
	n        *noted
	provider *atomic.Value // string: the provider of the request being logged
}

func (l notingLog) Enabled(context.Context, slog.Level) bool { return true }
func (l notingLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l notingLog) WithGroup(string) slog.Handler            { return l }
func (l notingLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "domain" && a.Value.String() != "" {
			l.n.add(a.Value.String() + " " + l.provider.Load().(string))
		}
		return true
	})
	return nil
}

// notingObserver keeps the provider of the request being answered for notingLog: the
// stack observes a request just before it logs it, and tests send one at a time.
type notingObserver struct{ provider *atomic.Value }

func (o notingObserver) ObserveHTTP(_ string, _ int, provider string, _ time.Duration) {
	o.provider.Store(provider)
}

// otherProtocol is an unrelated, case-sensitive route of another protocol.
type otherProtocol struct{}

func (otherProtocol) Routes() []httpserver.Route {
	return []httpserver.Route{{Methods: []string{http.MethodGet}, Path: "/Other/Path", Endpoint: "other-test",
		Handler: func(c echo.Context) error { return c.String(http.StatusOK, "other") }}}
}

// testServer is a real listener on 127.0.0.1 serving the project's HTTP stack with h,
// next to an unrelated, case-sensitive route of another protocol.
type testServer struct {
	*httptest.Server
	noted *noted
}

// startServer starts the stack for h; requests from the trusted proxies may say how the
// client connected (X-Forwarded-Proto).
func startServer(t testing.TB, h *Handler, trusted ...netip.Prefix) *testServer {
	t.Helper()
	n := &noted{}
	ts := httptest.NewServer(newStack(h, n, trusted...))
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, noted: n}
}

// newStack returns the HTTP stack serving h; n, when set, records the noted domains.
func newStack(h *Handler, n *noted, trusted ...netip.Prefix) *httpserver.Handler {
	if n == nil {
		n = &noted{}
	}
	provider := &atomic.Value{}
	provider.Store("")
	return httpserver.New(httpserver.Options{
		Log:            slog.New(notingLog{n: n, provider: provider}),
		Observer:       notingObserver{provider: provider},
		TrustedProxies: trusted,
	}, h, otherProtocol{})
}

// do sends one request and returns the response with its body read.
func (ts *testServer) do(t testing.TB, method, path, contentType, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], "Host") {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// autodiscoverRequest builds a POX request the way Outlook sends it.
func autodiscoverRequest(address string) string {
	return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + nsRequestOutlook + `"><Request><EMailAddress>` +
		address + `</EMailAddress><AcceptableResponseSchema>` + nsResponseOutlook + `</AcceptableResponseSchema></Request></Autodiscover>`
}

// parseXML parses a whole document strictly, as a namespace-aware client does
// (internal/clientrules).
func parseXML(b []byte) (*clientrules.Node, error) { return clientrules.ParseXML(b) }

// errorOf returns the ErrorCode of an error document, or "" for a settings document.
// Every answer is read with the clients' rules (clientrules.ParsePOX) first.
func errorOf(t testing.TB, b []byte) string {
	t.Helper()
	pox, err := clientrules.ParsePOX(b)
	if err != nil {
		t.Fatalf("answer breaks the clients' rules: %v\n%s", err, b)
	}
	if pox.Error != nil {
		return pox.Error.Code
	}
	return ""
}

// settings is what a client reads from a settings document.
type settings struct {
	DisplayName string
	Protocols   []protocol
}

type protocol struct {
	Type, Server, Port, LoginName, SPA, SSL, Encryption, AuthRequired, UsePOPAuth, SMTPLast, TTL string
}

func (p protocol) String() string {
	return fmt.Sprintf("%s %s:%s login=%q ssl=%s enc=%s auth=%s", p.Type, p.Server, p.Port, p.LoginName, p.SSL, p.Encryption, p.AuthRequired)
}

// settingsOf reads a settings document with the clients' rules.
func settingsOf(t testing.TB, b []byte) settings {
	t.Helper()
	pox, err := clientrules.ParsePOX(b)
	if err != nil {
		t.Fatalf("answer breaks the clients' rules: %v\n%s", err, b)
	}
	if pox.Error != nil {
		t.Fatalf("not a settings document:\n%s", b)
	}
	s := settings{DisplayName: pox.DisplayName}
	text := func(p clientrules.Protocol, name string) string {
		if v, ok := p.Field(name); ok {
			return v
		}
		return "<absent>"
	}
	for _, p := range pox.Protocols {
		s.Protocols = append(s.Protocols, protocol{
			Type: text(p, "Type"), Server: text(p, "Server"), Port: text(p, "Port"),
			LoginName: text(p, "LoginName"), SPA: text(p, "SPA"), SSL: text(p, "SSL"),
			Encryption: text(p, "Encryption"), AuthRequired: text(p, "AuthRequired"),
			UsePOPAuth: text(p, "UsePOPAuth"), SMTPLast: text(p, "SMTPLast"), TTL: text(p, "TTL"),
		})
	}
	return s
}

// checkLogins asserts that every Protocol's LoginName is the provider's username
// pattern expanded for addr.
func checkLogins(t testing.TB, cat *mailconf.Catalog, s settings, address string) {
	t.Helper()
	addr, err := mailconf.ParseAddress(address)
	if err != nil {
		t.Fatal(err)
	}
	p, ok := cat.Lookup(addr.Domain)
	if !ok {
		t.Fatalf("%s: no provider", address)
	}
	servers := append(append([]mailconf.Server(nil), p.Incoming...), p.Outgoing...)
	if len(s.Protocols) != len(servers) {
		t.Fatalf("%d protocols, want %d", len(s.Protocols), len(servers))
	}
	if s.DisplayName != addr.String() {
		t.Errorf("DisplayName %q, want %q", s.DisplayName, addr.String())
	}
	for i, srv := range servers {
		if want := expandUsername(srv.Username, addr); s.Protocols[i].LoginName != want {
			t.Errorf("protocol %d (%s): LoginName %q, want %q", i, srv.Hostname, s.Protocols[i].LoginName, want)
		}
		if s.Protocols[i].Server != srv.Hostname.String() {
			t.Errorf("protocol %d: Server %q, want %q", i, s.Protocols[i].Server, srv.Hostname)
		}
	}
}

// checkXMLHeaders asserts what every POX answer carries.
func checkXMLHeaders(t testing.TB, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/xml; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if v := resp.Header.Values("WWW-Authenticate"); len(v) > 0 {
		t.Errorf("WWW-Authenticate sent: %q", v)
	}
}

// expandUsername is the test's own reading of the username placeholders, independent of
// the prepared documents.
func expandUsername(pattern string, a mailconf.Address) string {
	return strings.NewReplacer(
		mailconf.PlaceholderAddress, a.String(),
		mailconf.PlaceholderLocalPart, a.LocalPart,
		mailconf.PlaceholderDomain, a.Domain.String(),
	).Replace(pattern)
}

// TestDocumentsOnFirstUse: with no document prepared before use, every provider's
// answer is the same as with all prepared when the catalog loads.
func TestDocumentsOnFirstUse(t *testing.T) {
	cat := testCatalog(t)
	eager := startServer(t, newTestHandler(t, cat))
	defer func(n int) { parallel.Eager = n }(parallel.Eager)
	parallel.Eager = 0
	lazy := startServer(t, newTestHandler(t, cat))
	for _, p := range cat.Providers {
		req := autodiscoverRequest("someone@" + p.Domains[0].String())
		_, want := eager.do(t, "POST", PathXML, "text/xml", req)
		_, got := lazy.do(t, "POST", PathXML, "text/xml", req)
		if errorOf(t, want) != "" || string(got) != string(want) {
			t.Errorf("%s: prepared on first use:\n%s\nprepared at load:\n%s", p.ID, got, want)
		}
	}
}
