package httpserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

type routes func(e *echo.Echo)

func (r routes) Register(e *echo.Echo) { r(e) }

func TestEndpoint(t *testing.T) {
	for path, want := range map[string]string{
		"/mail/config-v1.1.xml":                        "autoconfig",
		"/.well-known/autoconfig/mail/config-v1.1.xml": "autoconfig",
		"/.well-known/mail-v1.xml":                     "autoconfig",
		"/v1.1/qq.com":                                 "autoconfig",
		"/autoconfig/v1.1/qq.com":                      "autoconfig",
		"/Autodiscover/Autodiscover.xml":               "autodiscover",
		"/autodiscover/autodiscover.json/v1.0/a@b.c":   "autodiscover-json",
		"/AutoDiscover/AutoDiscover.JSON":              "autodiscover-json",
		"/":                                            "other",
		"/etc/passwd":                                  "other",
	} {
		if got := Endpoint(path); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", path, got, want)
		}
	}
}

func TestLogPath(t *testing.T) {
	for in, want := range map[string]string{
		"/v1.1/qq.com": "/v1.1/qq.com",
		"/autodiscover/autodiscover.json/v1.0/user@qq.com":   "/autodiscover/autodiscover.json/v1.0/{address}",
		"/autodiscover/autodiscover.json/v1.0/user%40qq.com": "/autodiscover/autodiscover.json/v1.0/{address}",
		"/x/secret.user%40qq.com/y%20z":                      "/x/{address}/y%20z",
		"/v1.1/%3Cscript%3E":                                 "/v1.1/%3Cscript%3E",
		"/" + strings.Repeat("a", 300):                       "/" + strings.Repeat("a", maxLoggedPath-1) + "...",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := logPath(u); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	ip := clientIPFunc(trusted)
	none := clientIPFunc(nil)
	cases := []struct {
		remote, xff string
		want        string
		wantNone    string
	}{
		{"198.51.100.7:1234", "", "198.51.100.7", "198.51.100.7"},
		{"198.51.100.7:1234", "203.0.113.1", "198.51.100.7", "198.51.100.7"},   // untrusted peer: header ignored
		{"10.1.2.3:1234", "203.0.113.1", "203.0.113.1", "10.1.2.3"},            // trusted proxy
		{"10.1.2.3:1234", "6.6.6.6, 203.0.113.1", "203.0.113.1", "10.1.2.3"},   // rightmost untrusted wins
		{"10.1.2.3:1234", "203.0.113.1, 192.0.2.1", "203.0.113.1", "10.1.2.3"}, // through two proxies
		{"10.1.2.3:1234", "not-an-ip", "10.1.2.3", "10.1.2.3"},                 // malformed: the peer
		{"[2001:db8::1]:443", "203.0.113.1", "2001:db8::1", "2001:db8::1"},     // v6 peer untrusted
		{"[::ffff:10.0.0.1]:443", "203.0.113.9", "203.0.113.9", "10.0.0.1"},    // mapped v4 peer
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := ip(r).String(); got != tc.want {
			t.Errorf("%s XFF %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
		if got := none(r).String(); got != tc.wantNone {
			t.Errorf("no trusted proxies: %s XFF %q: %s, want %s", tc.remote, tc.xff, got, tc.wantNone)
		}
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/33"}); err == nil {
		t.Error("bad prefix accepted")
	}
}

func TestRateLimiter(t *testing.T) {
	l := newRateLimiter(2, 3)
	a := netip.MustParseAddr("198.51.100.1")
	b := netip.MustParseAddr("198.51.100.2")
	now := time.Unix(1000, 0)
	var got []bool
	for range 4 {
		got = append(got, l.allow(a, now))
	}
	if want := []bool{true, true, true, false}; !equal(got, want) {
		t.Fatalf("burst: %v, want %v", got, want)
	}
	if !l.allow(b, now) {
		t.Error("another client was limited")
	}
	if !l.allow(a, now.Add(600*time.Millisecond)) { // 1.2 tokens back
		t.Error("tokens not refilled")
	}
	if l.allow(a, now.Add(700*time.Millisecond)) {
		t.Error("refilled too fast")
	}
	// One IPv6 host holds its /64: addresses in it share the bucket.
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::ffff")
	for range 3 {
		l.allow(v6a, now)
	}
	if l.allow(v6b, now) {
		t.Error("same /64 not limited together")
	}
	// Idle buckets are dropped.
	l.allow(a, now.Add(time.Hour))
	if len(l.bkts) != 1 {
		t.Errorf("%d buckets kept after an hour", len(l.bkts))
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSlowloris checks the real listener settings: a client that trickles its request
// headers is cut off after ReadHeaderTimeout.
func TestSlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the header timeout")
	}
	t.Parallel()
	h := NewHandler(nil)
	srv := NewServer(h, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Serve(ctx, srv, ln, time.Second)

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "GET /mail/config-v1.1.xml HTTP/1.1\r\nHost: autoconfig.qq.com\r\n")
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 512)
		for {
			if _, err := conn.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case d := <-closed:
			if d < ReadHeaderTimeout-time.Second || d > ReadHeaderTimeout+3*time.Second {
				t.Fatalf("connection closed after %v, want about %v", d, ReadHeaderTimeout)
			}
			return
		case <-tick.C:
			io.WriteString(conn, "X-Slow: a\r\n") // never finishes the header block
		case <-time.After(ReadHeaderTimeout + 5*time.Second):
			t.Fatal("slow client was never cut off")
		}
	}
}

func TestPanicRecovered(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(slog.New(slog.NewTextHandler(&logs, nil)), routes(func(e *echo.Echo) {
		e.GET("/boom", func(echo.Context) error { panic("boom") })
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || strings.Contains(string(body), "boom") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "panic") || !strings.Contains(logs.String(), "status=500") {
		t.Fatalf("log:\n%s", logs.String())
	}
	// The server goes on.
	resp, err = http.Get(srv.URL + "/nothing")
	if err != nil || resp.StatusCode != 404 {
		t.Fatalf("after panic: %v %v", resp, err)
	}
}

type countingObserver struct{ calls []string }

func (o *countingObserver) ObserveHTTP(endpoint string, code int, provider string, d time.Duration) {
	o.calls = append(o.calls, endpoint+" "+http.StatusText(code)+" "+provider)
}

func TestObserverAndRequestID(t *testing.T) {
	obs := &countingObserver{}
	h := New(Options{Observer: obs}, routes(func(e *echo.Echo) {
		e.GET("/v1.1/:domain", func(c echo.Context) error {
			if n, ok := c.Response().Writer.(interface{ NoteDomain(domain, provider string) }); ok {
				n.NoteDomain("qq.com", "qq.com")
			}
			return c.String(200, "ok")
		})
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1.1/qq.com", nil))
	rec2 := httptest.NewRecorder()
	h.ServeHTTP(rec2, httptest.NewRequest("GET", "/x", nil))
	if got := strings.Join(obs.calls, "|"); got != "autoconfig OK qq.com|other Not Found " {
		t.Fatalf("observed %q", got)
	}
	id1, id2 := rec.Header().Get("X-Request-Id"), rec2.Header().Get("X-Request-Id")
	if id1 == "" || id1 == id2 {
		t.Fatalf("request ids %q %q", id1, id2)
	}
}

// caseFolding is a PathCanonicalizer for the test: /Fold matches in any casing.
type caseFolding struct{ registered *bool }

func (c caseFolding) Register(e *echo.Echo) {
	panic("Register must not be called on a PathCanonicalizer")
}
func (c caseFolding) RegisterRoutes(e *echo.Echo) {
	*c.registered = true
	e.GET("/fold", func(c echo.Context) error { return c.String(200, "folded") })
}
func (c caseFolding) CanonicalizePath(u *url.URL) {
	if strings.EqualFold(u.Path, "/fold") {
		u.Path = "/fold"
	}
}

func TestPathCanonicalizer(t *testing.T) {
	registered := false
	h := New(Options{}, caseFolding{&registered})
	if !registered {
		t.Fatal("RegisterRoutes not called")
	}
	for path, want := range map[string]int{"/fold": 200, "/FOLD": 200, "/FoLd": 200, "/other": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}

// TestForwardingHeaders checks that only a trusted proxy may say how the client
// connected: echo's Scheme() reads X-Forwarded-Proto.
func TestForwardingHeaders(t *testing.T) {
	scheme := routes(func(e *echo.Echo) {
		e.GET("/scheme", func(c echo.Context) error { return c.String(200, c.Scheme()) })
	})
	trusted, _ := ParsePrefixes([]string{"10.0.0.0/8"})
	for _, tc := range []struct {
		remote string
		want   string
	}{
		{"198.51.100.7:1234", "http"},
		{"10.0.0.5:1234", "https"},
	} {
		h := New(Options{TrustedProxies: trusted}, scheme)
		req := httptest.NewRequest("GET", "/scheme", nil)
		req.RemoteAddr = tc.remote
		req.Header.Set("X-Forwarded-Proto", "https")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if got := rec.Body.String(); got != tc.want {
			t.Errorf("peer %s: scheme %q, want %q", tc.remote, got, tc.want)
		}
	}
}

func TestAddressRedactor(t *testing.T) {
	var logs bytes.Buffer
	r := addressRedactor{slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	r.Write([]byte("http: TLS handshake error from 192.0.2.1:34246: EOF\n"))
	r.Write([]byte("http: panic serving [2001:db8::1]:443: boom\n"))
	out := logs.String()
	if strings.Contains(out, "192.0.2.1") || strings.Contains(out, "2001:db8") || strings.Count(out, "{client}") != 2 {
		t.Fatalf("addresses not redacted:\n%s", out)
	}
}
