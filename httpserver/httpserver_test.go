package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
)

// routes is a Protocol for the tests.
type routes []Route

func (r routes) Routes() []Route { return r }

func get(path, label string, h echo.HandlerFunc) Route {
	return Route{Methods: []string{http.MethodGet}, Path: path, Endpoint: label, Handler: h}
}

func ok(c echo.Context) error { return c.String(http.StatusOK, c.Request().URL.Path) }

// protocolsLike are routes shaped like the real protocols': static paths, a :param
// path, and paths that match in any case, one ending in *.
var protocolsLike = routes{
	get("/mail/config-v1.1.xml", "autoconfig", ok),
	get("/.well-known/autoconfig/mail/config-v1.1.xml", "autoconfig", ok),
	get("/v1.1/:domain", "autoconfig", ok),
	{Methods: []string{http.MethodGet, http.MethodPost}, Path: "/autodiscover/autodiscover.xml", Endpoint: "autodiscover", AnyCase: true, Handler: ok},
	{Methods: []string{http.MethodGet}, Path: "/autodiscover/autodiscover.json", Endpoint: "autodiscover-json", AnyCase: true, Handler: ok},
	{Methods: []string{http.MethodGet}, Path: "/autodiscover/autodiscover.json/v1.0/*", Endpoint: "autodiscover-json", AnyCase: true, Handler: ok},
	get("/Other/Path", "other-case-sensitive", ok),
}

func TestEndpointLabels(t *testing.T) {
	if got, want := EndpointLabels(protocolsLike), []string{"autoconfig", "autodiscover", "autodiscover-json", "other-case-sensitive", EndpointOther}; !slices.Equal(got, want) {
		t.Errorf("EndpointLabels = %v, want %v", got, want)
	}
	h := New(Options{}, protocolsLike)
	for path, want := range map[string]string{
		"/mail/config-v1.1.xml":                        "autoconfig",
		"/.well-known/autoconfig/mail/config-v1.1.xml": "autoconfig",
		"/v1.1/qq.com":                                 "autoconfig",
		"/Autodiscover/Autodiscover.xml":               "autodiscover",
		"/autodiscover/autodiscover.json/v1.0/a@b.c":   "autodiscover-json",
		"/AutoDiscover/AutoDiscover.JSON":              "autodiscover-json",
		"/Other/Path":                                  "other-case-sensitive",
		"/other/path":                                  "other",
		"/Mail/Config-v1.1.xml":                        "other",
		"/":                                            "other",
		"/etc/passwd":                                  "other",
	} {
		if got := h.endpoints.label(path); got != want {
			t.Errorf("label(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestAnyCase folds the paths of AnyCase routes, and only the fixed part of them, before
// routing; other paths are left as they are, without allocating.
func TestAnyCase(t *testing.T) {
	h := New(Options{}, protocolsLike)
	for _, tc := range []struct{ target, wantPath, wantRaw string }{
		{"/autodiscover/autodiscover.xml", "/autodiscover/autodiscover.xml", ""},
		{"/Autodiscover/Autodiscover.xml", "/autodiscover/autodiscover.xml", ""},
		{"/AUTODISCOVER/AUTODISCOVER.XML", "/autodiscover/autodiscover.xml", ""},
		{"/autodiscover/autodiscover%2Exml", "/autodiscover/autodiscover.xml", ""},
		{"/AutoDiscover/AutoDiscover.json", "/autodiscover/autodiscover.json", ""},
		{"/autodiscover/autodiscover.json/v1.0/User@QQ.com", "/autodiscover/autodiscover.json/v1.0/User@QQ.com", ""},
		{"/AutoDiscover/AutoDiscover.json/V1.0/User@QQ.com", "/autodiscover/autodiscover.json/v1.0/User@QQ.com", ""},
		{"/Autodiscover/Autodiscover.json/v1.0/a%2Fb@qq.com", "/autodiscover/autodiscover.json/v1.0/a/b@qq.com", "/autodiscover/autodiscover.json/v1.0/a%2Fb@qq.com"},
		{"/Autodiscover/Autodiscover.json/v1.0/a%2fb@qq.com?x=%2F", "/autodiscover/autodiscover.json/v1.0/a/b@qq.com", "/autodiscover/autodiscover.json/v1.0/a%2fb@qq.com"},
		{"/Autodiscover/Autodiscover%2Ejson/v1.0/a%2Fb@qq.com", "/autodiscover/autodiscover.json/v1.0/a/b@qq.com", ""},
		{"/Other/Path%2Fx", "/Other/Path/x", "/Other/Path%2Fx"},
		{"/other/path", "/other/path", ""},
		{"/Mail/Config-v1.1.xml", "/Mail/Config-v1.1.xml", ""},
		{"/autodiscover/autodiscover.xml/", "/autodiscover/autodiscover.xml/", ""},
		{"/autodiscover/autodiscover.xmlx", "/autodiscover/autodiscover.xmlx", ""},
		{"/autodiscover/autodiscover.jso", "/autodiscover/autodiscover.jso", ""},
		{"/autodiſcover/autodiscover.xml", "/autodiſcover/autodiscover.xml", "/autodiſcover/autodiscover.xml"}, // U+017F folds to s in Unicode, not in our paths
	} {
		u, err := url.Parse(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		h.endpoints.canonicalize(u)
		if u.Path != tc.wantPath || u.RawPath != tc.wantRaw {
			t.Errorf("%s: Path %q RawPath %q, want %q %q", tc.target, u.Path, u.RawPath, tc.wantPath, tc.wantRaw)
		}
	}
	for path, want := range map[string]int{"/AutoDiscover/AutoDiscover.xml": 200, "/autodiscover/AUTODISCOVER.JSON/V1.0/a@b.c": 200, "/other/path": 404, "/Other/Path": 200} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
	u := &url.URL{}
	for _, p := range []string{"/mail/config-v1.1.xml", "/Autodiscover/Other/Long/Path/That/Is/Not/Ours", "/autodiscover/autodiscover.xml", "/autodiscover/autodiscover.json"} {
		u.Path = p
		if n := testing.AllocsPerRun(100, func() { h.endpoints.canonicalize(u) }); n != 0 {
			t.Errorf("%s: %v allocations, want 0", p, n)
		}
	}
}

func TestLogPath(t *testing.T) {
	h := New(Options{}, protocolsLike)
	for in, want := range map[string]string{
		"/v1.1/qq.com":          "/v1.1/qq.com",
		"/mail/config-v1.1.xml": "/mail/config-v1.1.xml",
		"/v1.1/%3Cscript%3E":    "/v1.1/%3Cscript%3E",
		"/autodiscover/autodiscover.json/v1.0/user@qq.com":   "/autodiscover/autodiscover.json/v1.0/{address}",
		"/autodiscover/autodiscover.json/v1.0/user%40qq.com": "/autodiscover/autodiscover.json/v1.0/{address}",
		// An address split by an encoded or a raw "/" leaves no part behind.
		"/autodiscover/autodiscover.json/v1.0/first%2Flast@example.com": "/autodiscover/autodiscover.json/v1.0/{address}",
		"/autodiscover/autodiscover.json/v1.0/first/last@example.com":   "/autodiscover/autodiscover.json/v1.0/{address}",
		// Encoded twice or more.
		"/autodiscover/autodiscover.json/v1.0/zq7probe%2540qq.com":   "/autodiscover/autodiscover.json/v1.0/{address}",
		"/autodiscover/autodiscover.json/v1.0/zq7probe%252540qq.com": "/autodiscover/autodiscover.json/v1.0/{address}",
		"/v1.1/zq7probe%2540qq.com":                                  "/v1.1/{address}",
		"/x/secret.user%40qq.com/y%20z":                              "/{address}",
		"/x/zq7probe%25zz%2540":                                      "/{address}",
		"/" + strings.Repeat("a", 300):                               "/" + strings.Repeat("a", maxLoggedPath-1) + "...",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		h.endpoints.canonicalize(u)
		if got := h.logPath(u); got != want {
			t.Errorf("logPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
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
	h := New(Options{})
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
	h := New(Options{Log: slog.New(slog.NewTextHandler(&logs, nil))}, routes{get("/boom", "boom", func(echo.Context) error { panic("boom") })})
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
	qq, err := mailconf.ParseDomain("qq.com")
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{Observer: obs}, routes{get("/v1.1/:domain", "autoconfig", func(c echo.Context) error {
		NoteDomain(c, qq, qq)
		return c.String(200, "ok")
	})})
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

// TestForwardingHeaders checks that only a trusted proxy may say how the client
// connected: echo's Scheme() reads X-Forwarded-Proto.
func TestForwardingHeaders(t *testing.T) {
	scheme := routes{get("/scheme", "scheme", func(c echo.Context) error { return c.String(200, c.Scheme()) })}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
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

func TestHostDomain(t *testing.T) {
	for in, want := range map[string]string{
		"qq.com":                 "qq.com",
		"AutoConfig.QQ.com:8080": "autoconfig.qq.com",
		"qq.com.":                "qq.com",
		"qq.com.:443":            "qq.com",
		"[::1]:8080":             "[::1]",
		"bücher.example":         "xn--bcher-kva.example",
		strings.Repeat("a", 300): "",
		"autoconfig.\xffbad.com": "",
	} {
		if got := HostDomain(in); got != want {
			t.Errorf("HostDomain(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueryParam(t *testing.T) {
	for _, tc := range []struct {
		raw, name, want string
		ok              bool
	}{
		{"emailaddress=a%40qq.com", "emailaddress", "a@qq.com", true},
		{"EmailAddress=a@qq.com", "emailaddress", "a@qq.com", true},
		{"emailaddress=a+b@qq.com", "emailaddress", "a+b@qq.com", true}, // a raw plus stays a plus
		{"emailaddress=a%2Bb%40qq.com", "emailaddress", "a+b@qq.com", true},
		{"x=1&emailaddress=a%40qq.com&emailaddress=b%40qq.com", "emailaddress", "a@qq.com", true},
		{"emailaddress=%zz", "emailaddress", "", false},
		{"other=1", "emailaddress", "", false},
		{"", "emailaddress", "", false},
	} {
		got, ok := QueryParam(tc.raw, tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("QueryParam(%q, %q) = %q, %v; want %q, %v", tc.raw, tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestContentLengthAndTransferEncoding: a request with both is answered, then its
// connection closed (RFC 9112 §6.1); a request with a Content-Length alone keeps its
// connection.
func TestContentLengthAndTransferEncoding(t *testing.T) {
	h := New(Options{}, routes{{Methods: []string{http.MethodPost}, Path: "/post", Endpoint: "post", Handler: func(c echo.Context) error {
		b, _ := io.ReadAll(c.Request().Body)
		return c.String(200, string(b))
	}}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	send := func(req string) (*http.Response, net.Conn, *bufio.Reader) {
		t.Helper()
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, req)
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, conn, r
	}
	resp, conn, r := send("POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
	defer conn.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Errorf("CL+TE: status %d, Connection close %v", resp.StatusCode, resp.Close)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		t.Errorf("CL+TE: the connection stayed open (%v)", err)
	}
	resp, conn2, r2 := send("POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	defer conn2.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Errorf("CL alone: status %d, Connection close %v", resp.StatusCode, resp.Close)
	}
	io.WriteString(conn2, "POST /post HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	if resp, err := http.ReadResponse(r2, nil); err != nil || resp.StatusCode != 200 {
		t.Errorf("CL alone: the connection was not kept for a second request (%v)", err)
	}
}

// TestRequestIDs: IDs stay unique when many goroutines take them across block
// boundaries, and each header value is the ID alone, with no room to append into a
// neighbour's.
func TestRequestIDs(t *testing.T) {
	ids := newRequestIDs()
	const workers, each = 8, 5 * idBlockSize
	got := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				id, header := ids.next()
				if len(header) != 1 || cap(header) != 1 || header[0] != id {
					t.Errorf("header %q (cap %d) for ID %q", header, cap(header), id)
					return
				}
				got[w] = append(got[w], id)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range got {
		for _, id := range list {
			if seen[id] || !strings.HasPrefix(id, ids.prefix) || len(id) == len(ids.prefix) {
				t.Fatalf("ID %q repeated or malformed", id)
			}
			seen[id] = true
		}
	}
	if len(seen) != workers*each {
		t.Fatalf("%d IDs, want %d", len(seen), workers*each)
	}
}
