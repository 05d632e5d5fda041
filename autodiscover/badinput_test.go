package autodiscover

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPOXBadInput sends each kind of bad request. Every answer is HTTP 200 with an
// error document that is byte for byte the golden one: nothing from the request is
// reflected.
func TestPOXBadInput(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	xxe := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("external entity fetched: %s", r.URL)
	}))
	defer xxe.Close()
	billionLaughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">` +
		`<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>` +
		autodiscoverRequest("&lol9;@qq.com")[len(`<?xml version="1.0" encoding="utf-8"?>`):]
	withDoctype := func(doctype, address string) string {
		return `<?xml version="1.0" encoding="utf-8"?>` + doctype + autodiscoverRequest(address)[len(`<?xml version="1.0" encoding="utf-8"?>`):]
	}
	for _, tc := range []struct {
		name, body, golden string
	}{
		{"empty body", "", "pox-error-600"},
		{"whitespace body", " \r\n\t ", "pox-error-600"},
		{"not XML", "EMailAddress=user@qq.com", "pox-error-600"},
		{"JSON", `{"EMailAddress":"user@qq.com"}`, "pox-error-600"},
		{"truncated", autodiscoverRequest("user@qq.com")[:120], "pox-error-600"},
		{"mismatched tags", `<Autodiscover><Request><EMailAddress>user@qq.com</Request></EMailAddress></Autodiscover>`, "pox-error-600"},
		{"billion laughs", billionLaughs, "pox-error-600"},
		{"external entity (http)", withDoctype(`<!DOCTYPE a [<!ENTITY xxe SYSTEM "`+xxe.URL+`/xxe">]>`, "&xxe;"), "pox-error-600"},
		{"external entity (file)", withDoctype(`<!DOCTYPE a [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`, "&xxe;@qq.com"), "pox-error-600"},
		{"parameter entity", withDoctype(`<!DOCTYPE a [<!ENTITY % p SYSTEM "`+xxe.URL+`/p"> %p;]>`, "user@qq.com"), "pox-error-600"},
		{"harmless DOCTYPE", withDoctype(`<!DOCTYPE Autodiscover>`, "user@qq.com"), "pox-error-600"},
		{"lowercase doctype", withDoctype(`<!doctype Autodiscover>`, "user@qq.com"), "pox-error-600"},
		{"ENTITY without DOCTYPE", `<!ENTITY x "y">` + autodiscoverRequest("user@qq.com"), "pox-error-600"},
		{"undeclared entity", autodiscoverRequest("&x;@qq.com"), "pox-error-600"},
		{"wrong root", `<Request><EMailAddress>user@qq.com</EMailAddress></Request>`, "pox-error-600"},
		{"no Request", `<Autodiscover><EMailAddress>user@qq.com</EMailAddress></Autodiscover>`, "pox-error-600"},
		{"missing address", `<Autodiscover xmlns="` + nsRequestOutlook + `"><Request><AcceptableResponseSchema>` + nsResponseOutlook + `</AcceptableResponseSchema></Request></Autodiscover>`, "pox-error-600"},
		{"empty address", autodiscoverRequest(""), "pox-error-600"},
		{"blank address", autodiscoverRequest("  \n "), "pox-error-600"},
		{"no @", autodiscoverRequest("user.qq.com"), "pox-error-600"},
		{"no domain", autodiscoverRequest("user@"), "pox-error-600"},
		{"no local part", autodiscoverRequest("@qq.com"), "pox-error-600"},
		{"IP literal", autodiscoverRequest("user@127.0.0.1"), "pox-error-600"},
		{"bad domain", autodiscoverRequest("user@-qq-.com"), "pox-error-600"},
		{"long local part", autodiscoverRequest(strings.Repeat("a", 65) + "@qq.com"), "pox-error-600"},
		{"address over 254 bytes", autodiscoverRequest("a@" + strings.Repeat(strings.Repeat("b", 60)+".", 5) + "qq.com"), "pox-error-600"},
		{"invalid UTF-8", autodiscoverRequest("\xff\xfe@qq.com"), "pox-error-600"},
		{"raw < in quoted local part (Thunderbird)", thunderbirdRequest(`"a<b"@qq.com`), "pox-error-600"},
		{"script in address", autodiscoverRequest("&lt;script&gt;alert(1)&lt;/script&gt;@qq.com"), "pox-error-600"},
		{"deep nesting", strings.Repeat("<a>", 2000) + strings.Repeat("</a>", 2000), "pox-error-600"},
		{"unknown domain", autodiscoverRequest("user@example.com"), "pox-error-500"},
		{"unknown IDN domain", autodiscoverRequest("user@bücher.example"), "pox-error-500"},
		{"unknown schema", strings.Replace(autodiscoverRequest("user@qq.com"), nsResponseOutlook, `http://evil.example/&quot;&gt;&lt;x&gt;`, 1), "pox-error-601"},
		{"schema with a reflected script", strings.Replace(autodiscoverRequest("user@qq.com"), nsResponseOutlook, `&lt;script&gt;`, 1), "pox-error-601"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, "POST", PathXML, "text/xml; charset=utf-8", tc.body)
			checkXMLHeaders(t, resp)
			want, err := os.ReadFile(goldenPath(tc.golden))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("answer is not %s:\n%s", tc.golden, body)
			}
		})
	}
}

// TestPOXEscaping checks that request data written out is escaped: Thunderbird's
// unescaped "&" (recovered, not refused) and characters that need escaping in a
// well-formed, escaped quoted local part.
func TestPOXEscaping(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	for _, tc := range []struct {
		name, body  string
		wantAddress string // as the client reads it back
		wantRaw     string // as it must appear in the document
	}{
		{"raw & from Thunderbird", thunderbirdRequest("a&b@qq.com"), "a&b@qq.com", "<LoginName>a&amp;b@qq.com</LoginName>"},
		{"raw & twice", thunderbirdRequest("a&&b&c@qq.com"), "a&&b&c@qq.com", "<LoginName>a&amp;&amp;b&amp;c@qq.com</LoginName>"},
		{"escaped &", autodiscoverRequest("a&amp;b@qq.com"), "a&b@qq.com", "<LoginName>a&amp;b@qq.com</LoginName>"},
		{"< and \" escaped in the request", autodiscoverRequest(`"a&lt;b&gt;\&quot;c"@qq.com`), `"a<b>\"c"@qq.com`,
			`<LoginName>&#34;a&lt;b&gt;\&#34;c&#34;@qq.com</LoginName>`},
		{"apostrophe", autodiscoverRequest("o'brien@qq.com"), "o'brien@qq.com", "<LoginName>o&#39;brien@qq.com</LoginName>"},
		{"UTF-8 local part", autodiscoverRequest("用户@qq.com"), "用户@qq.com", "<LoginName>用户@qq.com</LoginName>"},
		{"uppercase alias domain", autodiscoverRequest("u@FOXMAIL.com"), "u@foxmail.com", "<LoginName>u@foxmail.com</LoginName>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ts.do(t, "POST", PathXML, "text/xml; charset=utf-8", tc.body)
			checkXMLHeaders(t, resp)
			s := settingsOf(t, body)
			for _, p := range s.Protocols {
				if p.LoginName != tc.wantAddress {
					t.Errorf("%s: LoginName reads %q, want %q", p.Type, p.LoginName, tc.wantAddress)
				}
			}
			if s.DisplayName != tc.wantAddress {
				t.Errorf("DisplayName reads %q, want %q", s.DisplayName, tc.wantAddress)
			}
			if n := strings.Count(string(body), tc.wantRaw); n != 3 {
				t.Errorf("%q appears %d times, want 3:\n%s", tc.wantRaw, n, body)
			}
		})
	}
}

// TestPOXBodyLimit checks the 64 KiB limit at its edge.
func TestPOXBodyLimit(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	req := autodiscoverRequest("user@qq.com")
	pad := func(size int) string { // a comment keeps the request valid
		return req + "<!--" + strings.Repeat("x", size-len(req)-7) + "-->"
	}
	for _, tc := range []struct {
		size     int
		wantCode string
	}{
		{MaxBodySize - 1, ""},
		{MaxBodySize, ""},
		{MaxBodySize + 1, "600"},
		{MaxBodySize + 4096, "600"},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			body := pad(tc.size)
			if len(body) != tc.size {
				t.Fatalf("built %d bytes", len(body))
			}
			resp, b := ts.do(t, "POST", PathXML, "", body)
			checkXMLHeaders(t, resp)
			if code := errorOf(t, b); code != tc.wantCode {
				t.Errorf("error %q, want %q", code, tc.wantCode)
			}
		})
	}
}

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{TCPConn: c.(*net.TCPConn), read: l.read}, nil
}

type countingConn struct {
	*net.TCPConn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// endlessBody yields n bytes of a request that never closes, without holding them.
type endlessBody struct{ remaining int }

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	n := min(len(p), b.remaining)
	for i := range p[:n] {
		p[i] = 'x'
	}
	b.remaining -= n
	return n, nil
}

// TestPOXHugeBody posts 10 MB, with a Content-Length and chunked: the answer is 600,
// the server reads little more than 64 KiB from the connection, and memory stays flat.
func TestPOXHugeBody(t *testing.T) {
	const size = 10 << 20
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			var read atomic.Int64
			ts := httptest.NewUnstartedServer(newStack(newTestHandler(t, qqCatalog(t)), nil))
			ts.Listener = countingListener{Listener: ts.Listener, read: &read}
			ts.Start()
			defer ts.Close()

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)

			var body io.Reader = io.MultiReader(strings.NewReader(autodiscoverRequest("user@qq.com")+"<!--"), &endlessBody{remaining: size})
			req, err := http.NewRequest("POST", ts.URL+PathXML, body)
			if err != nil {
				t.Fatal(err)
			}
			if !chunked {
				req.ContentLength = int64(len(autodiscoverRequest("user@qq.com"))+4) + size
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			checkXMLHeaders(t, resp)
			if code := errorOf(t, got); code != "600" {
				t.Errorf("error %q, want 600", code)
			}
			ts.Close() // waits for the handler and the connection to finish

			runtime.ReadMemStats(&after)
			// Headers, the 64 KiB + 1 read and bufio's read-ahead (4 KiB) and chunk framing.
			if n := read.Load(); n > MaxBodySize+16<<10 {
				t.Errorf("server read %d bytes from the connection, want at most %d", n, MaxBodySize+16<<10)
			} else {
				t.Logf("server read %d bytes of a %d-byte request", n, size)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
				t.Errorf("allocated %d bytes while refusing a 10 MB body", alloc)
			} else {
				t.Logf("allocated %d bytes in all (client and server)", alloc)
			}
		})
	}
}

// rawRequest writes head (and no more) on a fresh connection and reads the answer.
func rawRequest(t *testing.T, addr, head string) (*http.Response, []byte, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer after %v: %v", time.Since(start), err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b, time.Since(start)
}

// TestPOXSlowBody stops sending in the middle of the body: the handler answers 600
// once the body read timeout passes and closes the connection.
func TestPOXSlowBody(t *testing.T) {
	h := newTestHandler(t, qqCatalog(t))
	h.bodyReadTimeout = 300 * time.Millisecond
	ts := startServer(t, h)
	start := autodiscoverRequest("user@qq.com")[:100]
	for _, tc := range []struct{ name, head string }{
		{"content-length", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n" + start},
		{"chunked", "POST /Autodiscover/Autodiscover.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n", len(start), start)},
		{"headers only", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 500\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, took := rawRequest(t, ts.Listener.Addr().String(), tc.head)
			checkXMLHeaders(t, resp)
			if code := errorOf(t, body); code != "600" {
				t.Errorf("error %q, want 600", code)
			}
			if took > 3*time.Second {
				t.Errorf("answered after %v; the timeout is %v", took, h.bodyReadTimeout)
			}
			if !resp.Close {
				t.Errorf("connection kept open after an unfinished body")
			}
		})
	}
}

// TestPOXExpectContinue refuses an announced oversize body without asking for it.
func TestPOXExpectContinue(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	resp, body, _ := rawRequest(t, ts.Listener.Addr().String(),
		"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 10485760\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200 without 100 Continue", resp.StatusCode)
	}
	checkXMLHeaders(t, resp)
	if code := errorOf(t, body); code != "600" {
		t.Errorf("error %q, want 600", code)
	}
}

// TestPOXCutBody: a client that declares a longer body than it sends and closes its
// side gets error 600, even when the part sent is a whole request.
func TestPOXCutBody(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	req := autodiscoverRequest("user@qq.com")
	for _, tc := range []struct {
		name     string
		declared int
		wantCode string
	}{
		{"whole", len(req), ""},
		{"cut", len(req) + 50, "600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s", tc.declared, req)
			conn.(*net.TCPConn).CloseWrite()
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			checkXMLHeaders(t, resp)
			if code := errorOf(t, b); code != tc.wantCode {
				t.Errorf("error %q, want %q", code, tc.wantCode)
			}
		})
	}
}
