package autoconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/clientrules"
	"github.com/mailconf/mailconf/internal/golden"
	"github.com/mailconf/mailconf/internal/parallel"
)

func loadTestCatalog(t testing.TB) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Load("testdata/providers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestGolden renders every provider, compares with testdata/<id>.golden, and reads each
// golden file back with the strict client parsers.
func TestGolden(t *testing.T) {
	cat := loadTestCatalog(t)
	// k9Rejects names providers K-9 must refuse, with the reason.
	k9Rejects := map[string]string{"pop.example.net": "no imap server"}
	for _, p := range cat.Providers {
		t.Run(p.ID.String(), func(t *testing.T) {
			got, err := Render(p)
			if err != nil {
				t.Fatal(err)
			}
			want := golden.Check(t, filepath.Join("testdata", p.ID.String()+".golden"), got)
			checkDocument(t, p, want, "text/xml; charset=utf-8", k9Rejects[p.ID.String()])
		})
	}
}

// checkDocument parses body with the client rules and compares what each client takes
// with the provider. k9Reject, when not empty, is the reason K-9 must give for refusing it.
func checkDocument(t *testing.T, p *mailconf.Provider, body []byte, contentType, k9Reject string) {
	t.Helper()
	if err := checkDeclaration(body); err != nil {
		t.Errorf("serving rules: %v", err)
	}
	if err := clientrules.AutoconfigCommon(body); err != nil {
		t.Errorf("common client rules: %v", err)
	}
	tb, err := clientrules.Thunderbird(body, contentType)
	if err != nil {
		t.Fatalf("Thunderbird rules: %v", err)
	}
	var domains []string
	for _, d := range p.Domains {
		domains = append(domains, d.String())
	}
	if tb.ID != p.ID.String() || !slices.Equal(tb.Domains, domains) || tb.DisplayName != p.DisplayName.Default() {
		t.Errorf("Thunderbird read id %q domains %v name %q", tb.ID, tb.Domains, tb.DisplayName)
	}
	wantServer := func(s mailconf.Server) clientrules.Server {
		return clientrules.Server{Type: string(s.Type), Hostname: s.Hostname.String(), Port: s.Port, Socket: string(s.Socket), Username: s.Username, Auth: string(clientAuth(s))}
	}
	if tb.Incoming[0] != wantServer(p.Incoming[0]) || tb.Outgoing[0] != wantServer(p.Outgoing[0]) {
		t.Errorf("Thunderbird would use %+v and %+v", tb.Incoming[0], tb.Outgoing[0])
	}
	if len(tb.Incoming) != len(p.Incoming) || len(tb.Outgoing) != len(p.Outgoing) {
		t.Errorf("Thunderbird found %d incoming and %d outgoing servers, want %d and %d", len(tb.Incoming), len(tb.Outgoing), len(p.Incoming), len(p.Outgoing))
	}
	checkExtras(t, p, body)
	k9, err := clientrules.ThunderbirdAndroid(body)
	if k9Reject != "" {
		if err == nil || !strings.Contains(err.Error(), k9Reject) {
			t.Fatalf("K-9 rules: got %v, want rejection %q", err, k9Reject)
		}
		return
	}
	if err != nil {
		t.Fatalf("K-9 rules: %v", err)
	}
	var firstIMAP mailconf.Server
	for _, s := range p.Incoming {
		if s.Type == mailconf.TypeIMAP {
			firstIMAP = s
			break
		}
	}
	if k9.Incoming[0] != wantServer(firstIMAP) || k9.Outgoing[0] != wantServer(p.Outgoing[0]) {
		t.Errorf("K-9 would use %+v and %+v", k9.Incoming[0], k9.Outgoing[0])
	}
}

// clientAuth is the method Thunderbird and K-9 take from a server's list: the first,
// passing over OAuth2 on hosts they have no OAuth2 configuration for.
func clientAuth(s mailconf.Server) mailconf.Authentication {
	if clientrules.OAuth2BuiltIn(s.Hostname.String()) {
		return s.Authentication.First()
	}
	return s.Authentication.FirstExcept(mailconf.AuthOAuth2)
}

// checkExtras reads the calendars, address books and OAuth2 server by the draft's rules
// and compares them with the provider.
func checkExtras(t *testing.T, p *mailconf.Provider, body []byte) {
	t.Helper()
	ex, err := clientrules.AutoconfigExtras(body)
	if err != nil {
		t.Fatalf("draft rules: %v", err)
	}
	var want []clientrules.URLService
	for _, s := range p.Contacts {
		want = append(want, clientrules.URLService{Kind: "addressbook", Type: "carddav", URL: s.URL.String(), Auth: []string{"Basic"}, Username: s.Username})
	}
	for _, s := range p.Calendars {
		want = append(want, clientrules.URLService{Kind: "calendar", Type: "caldav", URL: s.URL.String(), Auth: []string{"Basic"}, Username: s.Username})
	}
	if !reflect.DeepEqual(ex.Services, want) {
		t.Errorf("draft reader took services %+v, want %+v", ex.Services, want)
	}
	switch o := p.OAuth2; {
	case o == nil && ex.OAuth2 != nil:
		t.Errorf("oAuth2 %+v without one configured", ex.OAuth2)
	case o != nil && (ex.OAuth2 == nil || *ex.OAuth2 != clientrules.OAuth2{Issuer: o.Issuer.String(), Scope: o.Scope, AuthURL: o.AuthURL.String(), TokenURL: o.TokenURL.String(), ClientID: o.ClientID}):
		t.Errorf("oAuth2 %+v, want %+v", ex.OAuth2, o)
	}
}

// checkDeclaration applies mailconf's own serving rule (docs/clients.md, "Rules mailconf
// follows" 2): the document starts with the UTF-8 XML declaration, nothing before it.
func checkDeclaration(body []byte) error {
	if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		return errors.New("body does not start with the UTF-8 XML declaration")
	}
	return nil
}

// newTestServer starts the full HTTP stack on a loopback listener. The request log goes
// to the returned buffer.
func newTestServer(t testing.TB, cat *mailconf.Catalog) (*httptest.Server, *Handler, *syncBuffer) {
	t.Helper()
	h, err := New(cat)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	srv := httptest.NewUnstartedServer(httpserver.New(httpserver.Options{Log: log}, h))
	srv.Config = httpserver.NewServer(srv.Config.Handler, log)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, h, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// get sends a request with the given Host header and raw request target.
func get(t *testing.T, srv *httptest.Server, method, host, target string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	// Send the target exactly as written, without Go's re-encoding.
	req.URL.Opaque = strings.SplitN(target, "?", 2)[0]
	if i := strings.IndexByte(target, '?'); i >= 0 {
		req.URL.RawQuery = target[i+1:]
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestHTTPRoutes(t *testing.T) {
	cat := loadTestCatalog(t)
	srv, _, logs := newTestServer(t, cat)
	qq, _ := cat.Lookup(mustDomain(t, "qq.com"))
	pop, _ := cat.Lookup(mustDomain(t, "pop.example.net"))
	st, _ := cat.Lookup(mustDomain(t, "starttls.example.org"))

	cases := []struct {
		name, method, host, target string
		want                       *mailconf.Provider // nil: 404
	}{
		// Each path, the domain from the Host header.
		{"config autoconfig host", "GET", "autoconfig.qq.com", "/mail/config-v1.1.xml", qq},
		{"config bare host", "GET", "qq.com", "/mail/config-v1.1.xml", qq},
		{"well-known", "GET", "qq.com", "/.well-known/autoconfig/mail/config-v1.1.xml", qq},
		{"mail-v1 GOA", "GET", "autoconfig.qq.com", "/.well-known/mail-v1.xml", qq},
		{"ispdb", "GET", "anything.invalid", "/v1.1/qq.com", qq},
		{"ispdb alias path", "GET", "anything.invalid", "/autoconfig/v1.1/foxmail.com", qq},
		{"ispdb upper case and dot", "GET", "x", "/v1.1/QQ.COM.", qq},
		{"ispdb IDN unicode", "GET", "x", "/v1.1/b%C3%BCcher.example", pop},
		{"ispdb IDN punycode", "GET", "x", "/v1.1/xn--bcher-kva.example", pop},
		{"ispdb unknown", "GET", "autoconfig.qq.com", "/v1.1/example.com", nil},
		// Host variations: case, port, trailing dot, alias domains.
		{"host case port dot", "GET", "AutoConfig.FoxMail.COM.:8080", "/mail/config-v1.1.xml", qq},
		{"alias domain host", "GET", "autoconfig.alias.example.org", "/mail/config-v1.1.xml", st},
		{"IDN host", "GET", "autoconfig.xn--bcher-kva.example", "/mail/config-v1.1.xml", pop},
		// The address wins over the Host (MX-derived lookups arrive on another host).
		{"address %40", "GET", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=user%40starttls.example.org", st},
		{"address raw @", "GET", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=user@alias.example.org", st},
		{"address raw plus", "GET", "unknown.example", "/mail/config-v1.1.xml?emailaddress=user+tag@foxmail.com", qq},
		{"address %2B", "GET", "unknown.example", "/mail/config-v1.1.xml?emailaddress=user%2Btag%40qq.com", qq},
		{"address Delta Chat encoding", "GET", "unknown.example", "/mail/config-v1.1.xml?emailaddress=first%2Elast%5Fx%40qq.com", qq},
		{"address and emailmd5", "GET", "unknown.example", "/mail/config-v1.1.xml?emailmd5=0123&emailaddress=u@qq.com&x=1", qq},
		{"address IDN", "GET", "unknown.example", "/mail/config-v1.1.xml?emailaddress=u@B%C3%BCcher.example", pop},
		{"unknown address domain falls back to host", "GET", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=user@company.example", qq},
		{"missing address, known host", "GET", "autoconfig.foxmail.com", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=", qq},
		{"unknown host, no address", "GET", "autoconfig.example.com", "/mail/config-v1.1.xml", nil},
		{"unknown host and address", "GET", "example.com", "/mail/config-v1.1.xml?emailaddress=a@example.com", nil},
		// HEAD
		{"HEAD config", "HEAD", "autoconfig.qq.com", "/mail/config-v1.1.xml", qq},
		{"HEAD ispdb", "HEAD", "x", "/v1.1/starttls.example.org", st},
		{"HEAD unknown", "HEAD", "example.com", "/mail/config-v1.1.xml", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, srv, tc.method, tc.host, tc.target, nil)
			if tc.want == nil {
				if resp.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d, want 404", resp.StatusCode)
				}
				if tc.method == "GET" && !bytes.Equal(body, notFoundBody) {
					t.Errorf("404 body %q", body)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200: %s", resp.StatusCode, body)
			}
			want, _ := Render(tc.want)
			if got := resp.Header.Get("Content-Type"); got != "text/xml; charset=utf-8" {
				t.Errorf("Content-Type %q", got)
			}
			if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(want)) {
				t.Errorf("Content-Length %q, want %d", got, len(want))
			}
			if resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != "no-cache" {
				t.Errorf("ETag %q Cache-Control %q", resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
			}
			if tc.method == "HEAD" {
				if len(body) != 0 {
					t.Errorf("HEAD returned a body of %d bytes", len(body))
				}
				return
			}
			if !bytes.Equal(body, want) {
				t.Fatalf("body is not %s's document:\n%s", tc.want.ID, body)
			}
			k9Reject := ""
			if tc.want.ID.String() == "pop.example.net" {
				k9Reject = "no imap server"
			}
			checkDocument(t, tc.want, body, resp.Header.Get("Content-Type"), k9Reject)
		})
	}
	// One log line per request, with the resolved domain and never an address or query.
	out := logs.String()
	if n := strings.Count(out, "msg=http "); n != len(cases) {
		t.Errorf("%d request log lines for %d requests:\n%s", n, len(cases), out)
	}
	for _, leak := range []string{"@", "emailaddress", "user", "%40"} {
		if strings.Contains(out, leak) {
			t.Errorf("request log contains %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "domain=starttls.example.org") || !strings.Contains(out, "status=404") {
		t.Errorf("request log lacks domain or status:\n%s", out)
	}
}

func TestETag(t *testing.T) {
	cat := loadTestCatalog(t)
	srv, h, _ := newTestServer(t, cat)
	resp, _ := get(t, srv, "GET", "autoconfig.qq.com", "/mail/config-v1.1.xml", nil)
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag %q is not a quoted strong validator", etag)
	}
	cases := []struct {
		inm  string
		want int
	}{
		{etag, http.StatusNotModified},
		{"W/" + etag, http.StatusNotModified},
		{`"other", ` + etag, http.StatusNotModified},
		{"*", http.StatusNotModified},
		{`"other"`, http.StatusOK},
		{`W/"x"`, http.StatusOK},
	}
	for _, tc := range cases {
		for _, method := range []string{"GET", "HEAD"} {
			resp, body := get(t, srv, method, "autoconfig.qq.com", "/mail/config-v1.1.xml", http.Header{"If-None-Match": {tc.inm}})
			if resp.StatusCode != tc.want {
				t.Errorf("%s If-None-Match %s: status %d, want %d", method, tc.inm, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusNotModified {
				if len(body) != 0 || resp.Header.Get("ETag") != etag {
					t.Errorf("304 with body %q, ETag %q", body, resp.Header.Get("ETag"))
				}
			}
		}
	}
	// Another provider has another validator; so has the same provider after a change.
	resp2, _ := get(t, srv, "GET", "autoconfig.starttls.example.org", "/mail/config-v1.1.xml", nil)
	if resp2.Header.Get("ETag") == etag {
		t.Error("two providers share an ETag")
	}
	changed, err := mailconf.Parse("changed.yaml", []byte(`providers:
  - id: qq.com
    display_name: QQ Mail (changed)
    domains: [qq.com]
    incoming: [{type: imap, hostname: imap.qq.com, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.qq.com, port: 465, socket: SSL}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Update(changed); err != nil {
		t.Fatal(err)
	}
	resp3, body := get(t, srv, "GET", "autoconfig.qq.com", "/mail/config-v1.1.xml", http.Header{"If-None-Match": {etag}})
	if resp3.StatusCode != http.StatusOK || resp3.Header.Get("ETag") == etag || !bytes.Contains(body, []byte("(changed)")) {
		t.Errorf("after update: status %d ETag %q", resp3.StatusCode, resp3.Header.Get("ETag"))
	}
	if resp4, _ := get(t, srv, "GET", "autoconfig.foxmail.com", "/mail/config-v1.1.xml", nil); resp4.StatusCode != http.StatusNotFound {
		t.Errorf("foxmail.com after update removed it: status %d", resp4.StatusCode)
	}
}

// TestBadInput sends hostile and odd input: each gets a clean answer (the configuration
// for the Host's domain, or 404), never a 500, never the input reflected.
func TestBadInput(t *testing.T) {
	cat := loadTestCatalog(t)
	srv, _, logs := newTestServer(t, cat)
	long := strings.Repeat("a", 2048)
	cases := []struct {
		name, host, target string
		want               int
	}{
		{"lt", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=%3Cscript%3E@qq.com", 200},
		{"lt raw", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=<script>alert(1)</script>@evil.example", 200},
		{"amp", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=a%26b@qq.com&x=%26", 200},
		{"quote", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=%22a%22b%22@qq.com", 200},
		{"crlf", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=a%0D%0AX-Injected:%201@qq.com", 200},
		{"nul", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=a%00b@qq.com", 200},
		{"2 KB", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=" + long + "@qq.com", 200},
		{"2 KB domain", "unknown.example", "/mail/config-v1.1.xml?emailaddress=a@" + long + ".com", 404},
		{"no at", "autoconfig.foxmail.com", "/mail/config-v1.1.xml?emailaddress=userqq.com", 200},
		{"two at", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=a@b@starttls.example.org", 200},
		{"bad escape", "autoconfig.qq.com", "/mail/config-v1.1.xml?emailaddress=%zz@qq.com", 200},
		{"IDN address", "unknown.example", "/mail/config-v1.1.xml?emailaddress=%E7%94%A8%E6%88%B7@b%C3%BCcher.example", 200},
		{"invalid IDN", "unknown.example", "/mail/config-v1.1.xml?emailaddress=a@xn--zzzz-.example", 404},
		{"traversal", "autoconfig.qq.com", "/v1.1/../../etc/passwd", 404},
		{"traversal encoded", "autoconfig.qq.com", "/v1.1/..%2F..%2Fetc%2Fpasswd", 404},
		{"traversal dots", "autoconfig.qq.com", "/v1.1/..", 404},
		{"empty ispdb", "autoconfig.qq.com", "/v1.1/", 404},
		{"script in ispdb", "x", "/v1.1/%3Cscript%3E.example", 404},
		{"overlong Host", "autoconfig." + strings.Repeat("a.", 2000) + "qq.com", "/mail/config-v1.1.xml", 404},
		{"Host with NUL-like junk", "autoconfig.qq.com%00", "/mail/config-v1.1.xml", 404},
		{"IP host", "127.0.0.1", "/mail/config-v1.1.xml", 404},
		{"IPv6 host", "[::1]:8080", "/mail/config-v1.1.xml", 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, srv, "GET", tc.host, tc.target, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			for _, reflected := range []string{"<script", "alert", "X-Injected", "etc/passwd", "aaaaaaaa", "evil", "%3C"} {
				if bytes.Contains(body, []byte(reflected)) {
					t.Errorf("body reflects %q", reflected)
				}
			}
			if resp.Header.Get("X-Injected") != "" {
				t.Error("header injected")
			}
			if tc.want == 200 {
				if err := checkDeclaration(body); err != nil {
					t.Errorf("not a usable document: %v", err)
				}
				if _, err := clientrules.Thunderbird(body, resp.Header.Get("Content-Type")); err != nil {
					t.Errorf("not a usable document: %v", err)
				}
			}
		})
	}
	out := logs.String()
	for _, leak := range []string{"<script", "@", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak[:min(len(leak), 20)], out)
		}
	}
}

// TestHostHeaderLimit checks that a Host header over the server's header limit is
// refused by the listener with 431, not passed on.
func TestHostHeaderLimit(t *testing.T) {
	srv, _, _ := newTestServer(t, loadTestCatalog(t))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	host := "autoconfig." + strings.Repeat("a", httpserver.MaxHeaderBytes+8192) + ".qq.com"
	if _, err := io.WriteString(conn, "GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestOtherMethodsAndPaths(t *testing.T) {
	srv, _, _ := newTestServer(t, loadTestCatalog(t))
	for _, tc := range []struct {
		method, target string
		want           int
	}{
		{"POST", "/mail/config-v1.1.xml", http.StatusMethodNotAllowed},
		{"GET", "/mail/config-v1.1.xml/", http.StatusNotFound},
		{"GET", "/unknown", http.StatusNotFound},
	} {
		resp, body := get(t, srv, tc.method, "autoconfig.qq.com", tc.target, nil)
		if resp.StatusCode != tc.want || resp.Header.Get("Content-Type") != "text/plain; charset=UTF-8" {
			t.Errorf("%s %s: status %d %q, want %d plain text", tc.method, tc.target, resp.StatusCode, resp.Header.Get("Content-Type"), tc.want)
		}
		if bytes.Contains(body, []byte("{")) {
			t.Errorf("%s %s: body %q", tc.method, tc.target, body)
		}
	}
}

func mustDomain(t testing.TB, s string) mailconf.Domain {
	t.Helper()
	d, err := mailconf.ParseDomain(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestGoldenPerDomain renders the document of a provider with per-domain host names
// for one of its domains: that domain alone, the host names filled in.
func TestGoldenPerDomain(t *testing.T) {
	cat, err := mailconf.Parse("perdomain.yaml", []byte(`
providers:
  - id: hoster.example
    display_name: Hoster Mail
    domains: [hoster.example, customer.example]
    incoming:
      - {type: imap, hostname: "imap.%EMAILDOMAIN%", port: 993, socket: SSL}
      - {type: pop3, hostname: pop.hoster.example, port: 995, socket: SSL}
    outgoing:
      - {hostname: "%EMAILDOMAIN%", port: 465, socket: SSL}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := cat.Providers[0]
	got, err := RenderFor(p, mustDomain(t, "customer.example"))
	if err != nil {
		t.Fatal(err)
	}
	want := golden.Check(t, filepath.Join("testdata", "perdomain-customer.example.golden"), got)
	if err := clientrules.AutoconfigCommon(want); err != nil {
		t.Errorf("common client rules: %v", err)
	}
	for _, parse := range []func([]byte) (*clientrules.Settings, error){clientrules.ThunderbirdAndroid, func(b []byte) (*clientrules.Settings, error) { return clientrules.Thunderbird(b, "text/xml") }} {
		c, err := parse(want)
		if err != nil {
			t.Fatal(err)
		}
		if c.Incoming[0].Hostname != "imap.customer.example" || c.Outgoing[0].Hostname != "customer.example" || strings.Join(c.Domains, " ") != "customer.example" {
			t.Errorf("clients read %+v", c)
		}
	}
	// Served over HTTP: each domain its document, each its ETag.
	srv, _, _ := newTestServer(t, cat)
	etags := map[string]bool{}
	for _, host := range []string{"autoconfig.customer.example", "autoconfig.hoster.example"} {
		req, _ := http.NewRequest("GET", srv.URL+"/mail/config-v1.1.xml", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		domain := strings.TrimPrefix(host, "autoconfig.")
		if want, _ := RenderFor(p, mustDomain(t, domain)); !bytes.Equal(body, want) || resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("%s: served\n%s\nwant\n%s", host, body, want)
		}
		etags[resp.Header.Get("ETag")] = true
		// The ETag validates.
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 304 {
			t.Errorf("%s: If-None-Match: %v %v", host, resp.StatusCode, err)
		}
	}
	if len(etags) != 2 {
		t.Errorf("ETags %v: one per domain wanted", etags)
	}
}

// TestDocumentsOnFirstUse: with no document prepared before use, every domain's
// answer is the same as with all prepared when the catalog loads.
func TestDocumentsOnFirstUse(t *testing.T) {
	cat := loadTestCatalog(t)
	eager, err := New(cat)
	if err != nil {
		t.Fatal(err)
	}
	defer func(n int) { parallel.Eager = n }(parallel.Eager)
	parallel.Eager = 0
	lazy, err := New(cat)
	if err != nil {
		t.Fatal(err)
	}
	get := func(h *Handler, domain string) string {
		srv := httptest.NewServer(httpserver.New(httpserver.Options{}, h))
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+PathConfig, nil)
		req.Host = "autoconfig." + domain
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return fmt.Sprint(resp.StatusCode, resp.Header.Get("ETag"), string(b))
	}
	for _, d := range cat.Domains() {
		if want, got := get(eager, d.String()), get(lazy, d.String()); got != want || !strings.HasPrefix(want, "200") {
			t.Errorf("%s: prepared on first use %q, at load %q", d, got, want)
		}
	}
}
