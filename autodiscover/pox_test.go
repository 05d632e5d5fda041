package autodiscover

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
)

// thunderbirdRequest is the body Thunderbird posts (ExchangeAutoDiscover.sys.mjs
// fetchConfigFromExchange), with the address inserted unescaped.
func thunderbirdRequest(address string) string {
	return `<?xml version="1.0" encoding="utf-8"?>
    <Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
      <Request>
        <EMailAddress>` + address + `</EMailAddress>
        <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
      </Request>
    </Autodiscover>`
}

// exchangelibRequest is the body exchangelib 4.9 posts (Autodiscover.payload via lxml).
func exchangelibRequest(address string) string {
	return "<?xml version='1.0' encoding='utf-8'?>\n<Autodiscover xmlns=\"" + nsRequestOutlook + "\"><Request><EMailAddress>" +
		address + "</EMailAddress><AcceptableResponseSchema>" + nsResponseOutlook + "</AcceptableResponseSchema></Request></Autodiscover>"
}

// TestPOXPathCasing posts to every casing clients use; other paths stay untouched.
func TestPOXPathCasing(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	for _, tc := range []struct {
		path       string
		wantStatus int
	}{
		{"/autodiscover/autodiscover.xml", 200}, // Thunderbird
		{"/Autodiscover/Autodiscover.xml", 200}, // exchangelib, gromox
		{"/AutoDiscover/AutoDiscover.xml", 200}, // Android mail
		{"/AUTODISCOVER/AUTODISCOVER.XML", 200},
		{"/autodiscover/AutoDiscover.Xml", 200},
		{"/autodiscover/autodiscover%2Exml", 200}, // percent-encoded dot: the same path
		{"/autodiscover/autodiscover.xml/", 404},
		{"/autodiscover/autodiscover.xmlx", 404},
		{"/xautodiscover/autodiscover.xml", 404},
		{"/autodiscover/autodiscover", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := ts.do(t, "POST", tc.path, "text/xml; charset=utf-8", autodiscoverRequest("user@qq.com"))
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == 200 {
				checkXMLHeaders(t, resp)
				checkLogins(t, qqCatalog(t), settingsOf(t, body), "user@qq.com")
			}
		})
	}
	// Another package's case-sensitive route is neither rewritten nor shadowed.
	if resp, _ := ts.do(t, "GET", "/Other/Path", "", ""); resp.StatusCode != 200 {
		t.Errorf("/Other/Path: status %d", resp.StatusCode)
	}
	if resp, _ := ts.do(t, "GET", "/other/path", "", ""); resp.StatusCode != 404 {
		t.Errorf("/other/path: status %d, want 404 (path must stay untouched)", resp.StatusCode)
	}
}

// TestPOXClients posts what real clients send and checks the settings they get.
func TestPOXClients(t *testing.T) {
	qq := startServer(t, newTestHandler(t, qqCatalog(t)))
	other := startServer(t, newTestHandler(t, testCatalog(t)))
	prefixed := `<?xml version="1.0" encoding="utf-8"?><a:Autodiscover xmlns:a="` + nsRequestOutlook + `"><a:Request>` +
		`<a:EMailAddress>user@qq.com</a:EMailAddress><a:AcceptableResponseSchema>` + nsResponseOutlook +
		`</a:AcceptableResponseSchema></a:Request></a:Autodiscover>`
	legacyDN := `<Autodiscover xmlns="` + nsRequestOutlook + `"><Request><LegacyDN>%s</LegacyDN>%s</Request></Autodiscover>`
	for _, tc := range []struct {
		name        string
		srv         *testServer
		contentType string
		body        string
		header      []string
		wantAddress string // the address the settings are for; "" for an error
		wantCode    string
		wantNoted   string
	}{
		{name: "thunderbird", srv: qq, contentType: "text/xml; charset=utf-8", body: thunderbirdRequest("user@qq.com"),
			header: []string{"Authorization", "Basic dXNlckBxcS5jb206c2VjcmV0"}, wantAddress: "user@qq.com", wantNoted: "qq.com qq.com"},
		{name: "exchangelib", srv: qq, contentType: "text/xml; charset=utf-8", body: exchangelibRequest("user@qq.com"),
			wantAddress: "user@qq.com", wantNoted: "qq.com qq.com"},
		{name: "outlook", srv: qq, contentType: "text/xml", body: autodiscoverRequest("user@qq.com"),
			header:      []string{"User-Agent", "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)", "X-MapiHttpCapability", "1", "X-ClientCanHandle", "Negotiate"},
			wantAddress: "user@qq.com"},
		{name: "alias domain", srv: qq, body: autodiscoverRequest("someone@foxmail.com"), wantAddress: "someone@foxmail.com", wantNoted: "foxmail.com qq.com"},
		{name: "uppercase domain", srv: qq, body: autodiscoverRequest("User@QQ.COM"), wantAddress: "User@qq.com"},
		{name: "no content type", srv: qq, body: autodiscoverRequest("user@qq.com"), wantAddress: "user@qq.com"},
		{name: "octet-stream", srv: qq, contentType: "application/octet-stream", body: autodiscoverRequest("user@qq.com"), wantAddress: "user@qq.com"},
		{name: "text/html (MS-ASHTTP)", srv: qq, contentType: "text/html", body: autodiscoverRequest("user@qq.com"), wantAddress: "user@qq.com"},
		{name: "BOM", srv: qq, body: "\xef\xbb\xbf" + autodiscoverRequest("user@qq.com"), wantAddress: "user@qq.com"},
		{name: "prefixed namespace", srv: qq, body: prefixed, wantAddress: "user@qq.com"},
		{name: "no namespace", srv: qq, body: `<Autodiscover><Request><EMailAddress>user@qq.com</EMailAddress></Request></Autodiscover>`, wantAddress: "user@qq.com"},
		{name: "no AcceptableResponseSchema", srv: qq, body: `<Autodiscover xmlns="` + nsRequestOutlook + `"><Request><EMailAddress> user@qq.com
			</EMailAddress></Request></Autodiscover>`, wantAddress: "user@qq.com"},
		{name: "https schema spelling", srv: qq, body: strings.Replace(autodiscoverRequest("user@qq.com"), ">http://", ">https://", 1), wantAddress: "user@qq.com"},
		{name: "CDATA address", srv: qq, body: autodiscoverRequest("<![CDATA[user@qq.com]]>"), wantAddress: "user@qq.com"},
		{name: "comment in address", srv: qq, body: autodiscoverRequest("user<!-- x -->@qq.com"), wantAddress: "user@qq.com"},
		{name: "LegacyDN only", srv: qq, body: fmt.Sprintf(legacyDN, "user@qq.com", ""), wantAddress: "user@qq.com"},
		{name: "LegacyDN wins", srv: qq, body: fmt.Sprintf(legacyDN, "dn@foxmail.com", "<EMailAddress>user@qq.com</EMailAddress>"), wantAddress: "dn@foxmail.com"},
		{name: "X.500 LegacyDN only", srv: qq, body: fmt.Sprintf(legacyDN, "/o=First Organization/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=user", ""), wantCode: "500"},
		{name: "X.500 LegacyDN and address", srv: qq, body: fmt.Sprintf(legacyDN, "/o=Org/cn=Recipients/cn=user", "<EMailAddress>user@qq.com</EMailAddress>"), wantAddress: "user@qq.com"},
		{name: "new Outlook mobilesync", srv: qq, body: mobilesyncRequest("user@qq.com"), wantCode: "601", wantNoted: "qq.com qq.com"},
		{name: "android mobilesync", srv: qq, body: `<?xml version='1.0' encoding='UTF-8' standalone='no' ?><Autodiscover xmlns="` + nsRequestMobilesync +
			`"><Request><EMailAddress>user@qq.com</EMailAddress><AcceptableResponseSchema>` + nsResponseMobilesync + `</AcceptableResponseSchema></Request></Autodiscover>`, wantCode: "601"},
		{name: "mobilesync namespace without schema", srv: qq, body: `<Autodiscover xmlns="` + nsRequestMobilesync + `"><Request><EMailAddress>user@qq.com</EMailAddress></Request></Autodiscover>`, wantCode: "601"},
		{name: "mobilesync answered with imap", srv: other, body: mobilesyncRequest("a.b@example.org"), wantAddress: "a.b@example.org", wantNoted: "example.org example.net"},
		{name: "starttls provider", srv: other, body: thunderbirdRequest("a.b@example.net"), wantAddress: "a.b@example.net"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.srv.do(t, "POST", "/Autodiscover/Autodiscover.xml", tc.contentType, tc.body, tc.header...)
			checkXMLHeaders(t, resp)
			if tc.wantCode != "" {
				if code := errorOf(t, body); code != tc.wantCode {
					t.Fatalf("error %q, want %q:\n%s", code, tc.wantCode, body)
				}
			} else {
				if code := errorOf(t, body); code != "" {
					t.Fatalf("error %s, want settings:\n%s", code, body)
				}
				cat := qqCatalog(t)
				if tc.srv == other {
					cat = testCatalog(t)
				}
				checkLogins(t, cat, settingsOf(t, body), tc.wantAddress)
			}
			if tc.wantNoted != "" && tc.srv.noted.last() != tc.wantNoted {
				t.Errorf("NoteDomain got %q, want %q", tc.srv.noted.last(), tc.wantNoted)
			}
		})
	}
}

// TestPOXMobilesyncNamespace checks the 601 for mobilesync is in the mobilesync
// response namespace, and the one for an unknown schema in the base namespace.
func TestPOXMobilesyncNamespace(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	for body, wantNS := range map[string]string{
		mobilesyncRequest("user@qq.com"): nsResponseMobilesync,
		strings.Replace(autodiscoverRequest("user@qq.com"), nsResponseOutlook, "urn:other", 1): nsResponseBase,
	} {
		_, b := ts.do(t, "POST", PathXML, "", body)
		root, err := parseXML(b)
		if err != nil {
			t.Fatal(err)
		}
		if ns := root.Child("Response").Name.Space; ns != wantNS {
			t.Errorf("Response namespace %q, want %q", ns, wantNS)
		}
	}
}

// TestGET covers Outlook's HTTP redirect method: 302 to the configured URL, else a 600
// document; never 404 or 405, never a redirect to where the request already is.
func TestGET(t *testing.T) {
	qq := startServer(t, newTestHandler(t, qqCatalog(t)))
	// The client is a trusted proxy, so its X-Forwarded-Proto counts.
	configured := startServer(t, newTestHandler(t, testCatalog(t)), netip.MustParsePrefix("127.0.0.1/32"))
	const url = "https://autodiscover.example.net/autodiscover/autodiscover.xml"
	for _, tc := range []struct {
		name         string
		srv          *testServer
		method, path string
		header       []string
		wantStatus   int
		wantLocation string
	}{
		{name: "no url configured", srv: qq, method: "GET", path: "/autodiscover/autodiscover.xml", wantStatus: 200},
		{name: "no url configured, head", srv: qq, method: "HEAD", path: "/AutoDiscover/AutoDiscover.xml", wantStatus: 200},
		{name: "redirect", srv: configured, method: "GET", path: "/Autodiscover/Autodiscover.xml", header: []string{"Host", "autodiscover.example.org"}, wantStatus: 302, wantLocation: url},
		{name: "redirect from http to the canonical host", srv: configured, method: "GET", path: "/autodiscover/autodiscover.xml", header: []string{"Host", "autodiscover.example.net"}, wantStatus: 302, wantLocation: url},
		{name: "redirect ignores a hostile Host", srv: configured, method: "GET", path: "/autodiscover/autodiscover.xml?x=1", header: []string{"Host", "evil.example"}, wantStatus: 302, wantLocation: url},
		{name: "head redirect", srv: configured, method: "HEAD", path: "/autodiscover/autodiscover.xml", wantStatus: 302, wantLocation: url},
		{name: "already at the canonical URL", srv: configured, method: "GET", path: "/autodiscover/autodiscover.xml",
			header: []string{"Host", "Autodiscover.Example.NET", "X-Forwarded-Proto", "https"}, wantStatus: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.srv.do(t, tc.method, tc.path, "", "", tc.header...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if loc := resp.Header.Get("Location"); loc != tc.wantLocation {
				t.Errorf("Location %q, want %q", loc, tc.wantLocation)
			}
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate sent")
			}
			if tc.wantStatus == 200 {
				checkXMLHeaders(t, resp)
				if tc.method == "GET" {
					if code := errorOf(t, body); code != "600" {
						t.Errorf("error %q, want 600", code)
					}
					if !strings.Contains(string(body), "POST") {
						t.Errorf("the 600 document does not say POST is required:\n%s", body)
					}
				}
			}
		})
	}
}

// TestNeverAnswers401 sends credentials the way Outlook and Thunderbird do to every
// endpoint: no 401, no challenge.
func TestNeverAnswers401(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	auth := []string{"Authorization", "Basic dXNlckBxcS5jb206c2VjcmV0"}
	for _, r := range []struct{ method, path, body string }{
		{"POST", PathXML, autodiscoverRequest("user@qq.com")},
		{"POST", PathXML, "garbage"},
		{"GET", PathXML, ""},
		{"GET", PathJSON + "?Email=user@qq.com&Protocol=AutodiscoverV1", ""},
		{"GET", PathJSON + "?Email=user@qq.com&Protocol=Ews", ""},
	} {
		resp, _ := ts.do(t, r.method, r.path, "text/xml", r.body, auth...)
		if resp.StatusCode == http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("%s %s: %d %q", r.method, r.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
}

// TestUpdate swaps catalogs atomically and keeps the old documents when the new ones
// cannot be prepared.
func TestUpdate(t *testing.T) {
	h := newTestHandler(t, qqCatalog(t))
	ts := startServer(t, h)
	post := func(address string) string {
		_, body := ts.do(t, "POST", PathXML, "", autodiscoverRequest(address))
		return errorOf(t, body)
	}
	if code := post("user@example.net"); code != "500" {
		t.Fatalf("before Update: %q, want 500", code)
	}
	if err := h.Update(testCatalog(t)); err != nil {
		t.Fatal(err)
	}
	if code := post("user@example.net"); code != "" {
		t.Fatalf("after Update: error %q, want settings", code)
	}
	if err := h.Update(nil); !errors.Is(err, ErrPrepare) {
		t.Fatalf("Update(nil) = %v, want ErrPrepare", err)
	}
	bad := testCatalog(t)
	bad.Providers[1].Incoming[1].Username = "x" + markers[slotAddress]
	if err := h.Update(bad); !errors.Is(err, ErrPrepare) {
		t.Fatalf("Update with a marker in a literal username = %v, want ErrPrepare", err)
	}
	if code := post("user@example.net"); code != "" {
		t.Fatalf("after failed Updates: error %q, want the previous settings", code)
	}
	if _, err := New(nil); !errors.Is(err, ErrPrepare) {
		t.Fatalf("New(nil) = %v, want ErrPrepare", err)
	}
}

// TestUpdateConcurrent races requests against Updates (run with -race).
func TestUpdateConcurrent(t *testing.T) {
	h := newTestHandler(t, qqCatalog(t))
	ts := startServer(t, h)
	cats := [2]*mailconf.Catalog{qqCatalog(t), testCatalog(t)}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load(); i++ {
			if err := h.Update(cats[i%2]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		_, body := ts.do(t, "POST", PathXML, "", autodiscoverRequest("user@qq.com"))
		if code := errorOf(t, body); code != "" {
			t.Fatalf("error %s during Update", code)
		}
	}
	stop.Store(true)
	<-done
}

// wrappingWriter is a middleware ResponseWriter in front of the stack, which unwraps.
type wrappingWriter struct{ http.ResponseWriter }

func (w wrappingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestNoteDomain reports only configured domains, with their provider, to the request
// log and the metrics.
func TestNoteDomain(t *testing.T) {
	n := &noted{}
	stack := newStack(newTestHandler(t, qqCatalog(t)), n)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stack.ServeHTTP(wrappingWriter{w}, r)
	}))
	defer srv.Close()
	ts := &testServer{Server: srv, noted: n}
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", PathXML, autodiscoverRequest("user@foxmail.com"), "foxmail.com qq.com"},
		{"GET", PathJSON + "?Email=a@qq.com&Protocol=AutodiscoverV1", "", "qq.com qq.com"},
		{"POST", PathXML, autodiscoverRequest("user@example.com"), ""},
		{"POST", PathXML, "garbage", ""},
	} {
		before := n.count()
		ts.do(t, tc.method, tc.path, "", tc.body)
		got := ""
		if n.count() > before {
			got = n.last()
		}
		if got != tc.want {
			t.Errorf("%s %s: noted %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	// The wrapping writer must not defeat the body limit.
	resp, body := ts.do(t, "POST", PathXML, "", autodiscoverRequest("user@qq.com")+strings.Repeat(" ", MaxBodySize))
	checkXMLHeaders(t, resp)
	if code := errorOf(t, body); code != "600" {
		t.Errorf("oversize body through a wrapping writer: error %q, want 600", code)
	}
}

// TestInnermost unwraps middleware writers down to the server's own, which
// http.MaxBytesReader needs in order to close the connection gracefully.
func TestInnermost(t *testing.T) {
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), wrappingWriter{wrappingWriter{rec}})
	if w := innermost(c.Response()); w != http.ResponseWriter(rec) {
		t.Errorf("innermost = %T, want the recorder", w)
	}
}
