package autodiscover

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// TestJSON covers both V2 request forms, their casings, and the ProxyShell lesson:
// the URL comes from configuration only.
func TestJSON(t *testing.T) {
	qq := startServer(t, newTestHandler(t, qqCatalog(t)))
	configured := startServer(t, newTestHandler(t, testCatalog(t)))
	const (
		qqURL         = "https://autodiscover.qq.com/autodiscover/autodiscover.xml"
		foxmailURL    = "https://autodiscover.foxmail.com/autodiscover/autodiscover.xml"
		configuredURL = "https://autodiscover.example.net/autodiscover/autodiscover.xml"
	)
	for _, tc := range []struct {
		name       string
		srv        *testServer
		path       string
		header     []string
		wantStatus int
		wantURL    string // for 200
		wantCode   string // ErrorCode for errors
		wantNoted  string
	}{
		{name: "query form", srv: qq, path: "/autodiscover/autodiscover.json?Email=user%40qq.com&Protocol=AutodiscoverV1&RedirectCount=1",
			wantStatus: 200, wantURL: qqURL, wantNoted: "qq.com qq.com"},
		{name: "Outlook's lowercase v", srv: qq, path: "/autodiscover/autodiscover.json?Email=user@qq.com&Protocol=Autodiscoverv1",
			wantStatus: 200, wantURL: qqURL},
		{name: "path form", srv: qq, path: "/autodiscover/autodiscover.json/v1.0/user@qq.com?Protocol=Autodiscoverv1&RedirectCount=1",
			wantStatus: 200, wantURL: qqURL},
		{name: "path form, encoded @", srv: qq, path: "/autodiscover/autodiscover.json/v1.0/user%40foxmail.com?Protocol=AutodiscoverV1",
			wantStatus: 200, wantURL: foxmailURL, wantNoted: "foxmail.com qq.com"},
		{name: "path casing", srv: qq, path: "/AutoDiscover/AutoDiscover.JSON/V1.0/User@QQ.com?Protocol=AUTODISCOVERV1",
			wantStatus: 200, wantURL: qqURL},
		{name: "query casing", srv: qq, path: "/Autodiscover/Autodiscover.json?email=user@qq.com&protocol=autodiscoverv1",
			wantStatus: 200, wantURL: qqURL},
		{name: "address with a slash", srv: qq, path: "/autodiscover/autodiscover.json/v1.0/a%2Fb@qq.com?Protocol=AutodiscoverV1",
			wantStatus: 200, wantURL: qqURL},
		{name: "configured url", srv: configured, path: "/autodiscover/autodiscover.json/v1.0/user@example.org?Protocol=AutodiscoverV1",
			wantStatus: 200, wantURL: configuredURL, wantNoted: "example.org example.net"},
		{name: "configured url, other provider", srv: configured, path: "/autodiscover/autodiscover.json?Email=user@qq.com&Protocol=AutodiscoverV1",
			wantStatus: 200, wantURL: configuredURL},
		{name: "hostile Host header", srv: qq, path: "/autodiscover/autodiscover.json?Email=user@qq.com&Protocol=AutodiscoverV1",
			header: []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example"}, wantStatus: 200, wantURL: qqURL},
		{name: "ProxyShell", srv: qq, path: "/autodiscover/autodiscover.json?@evil.example/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@evil.example&Protocol=AutodiscoverV1",
			wantStatus: 404, wantCode: "UnknownDomain"},
		// "autodiscover/autodiscover.json?" is a valid local part; the answer is still the
		// URL prepared for qq.com.
		{name: "ProxyShell on a known domain", srv: qq, path: "/autodiscover/autodiscover.json?@evil.example/x?&Email=autodiscover/autodiscover.json%3F@qq.com&Protocol=AutodiscoverV1",
			wantStatus: 200, wantURL: qqURL},
		{name: "ActiveSync", srv: qq, path: "/autodiscover/autodiscover.json?Email=user@qq.com&Protocol=ActiveSync&RedirectCount=1",
			wantStatus: 400, wantCode: "InvalidProtocol"},
		{name: "Ews", srv: qq, path: "/autodiscover/autodiscover.json/v1.0/user@qq.com?Protocol=Ews", wantStatus: 400, wantCode: "InvalidProtocol"},
		{name: "no protocol", srv: qq, path: "/autodiscover/autodiscover.json?Email=user@qq.com", wantStatus: 400, wantCode: "InvalidProtocol"},
		{name: "no email", srv: qq, path: "/autodiscover/autodiscover.json?Protocol=AutodiscoverV1", wantStatus: 400, wantCode: "InvalidEmail"},
		{name: "empty path email", srv: qq, path: "/autodiscover/autodiscover.json/v1.0/?Protocol=AutodiscoverV1", wantStatus: 400, wantCode: "InvalidEmail"},
		{name: "unknown domain", srv: qq, path: "/autodiscover/autodiscover.json?Email=user@example.com&Protocol=AutodiscoverV1", wantStatus: 404, wantCode: "UnknownDomain"},
		{name: "other sub-path", srv: qq, path: "/autodiscover/autodiscover.json/v2.0/user@qq.com?Protocol=AutodiscoverV1", wantStatus: 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := tc.srv.do(t, "GET", tc.path, "", "", tc.header...)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if strings.Contains(string(body), "evil") {
				t.Errorf("request text reflected: %s", body)
			}
			if tc.wantURL == "" && tc.wantCode == "" {
				return // echo's own 404 for a path that is not ours
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			// The answer's shape as new Outlook reads it.
			got, err := clientrules.ParseAutodiscoverJSON(resp.StatusCode, resp.Header.Get("Content-Type"), body)
			if err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if tc.wantStatus == 200 {
				if got.Protocol != "AutodiscoverV1" || got.URL != tc.wantURL {
					t.Errorf("got %+v, want Protocol AutodiscoverV1, Url %s", got, tc.wantURL)
				}
			} else if got.ErrorCode != tc.wantCode || got.ErrorMessage == "" {
				t.Errorf("got %+v, want ErrorCode %s", got, tc.wantCode)
			}
			if tc.wantNoted != "" && tc.srv.noted.last() != tc.wantNoted {
				t.Errorf("NoteDomain got %q, want %q", tc.srv.noted.last(), tc.wantNoted)
			}
		})
	}
}

// TestJSONInvalidProtocolEcho quotes an unknown protocol back only as letters and
// digits, and only 32 of them.
func TestJSONInvalidProtocolEcho(t *testing.T) {
	ts := startServer(t, newTestHandler(t, qqCatalog(t)))
	for _, tc := range []struct{ protocol, want string }{
		{"ActiveSync", "ActiveSync"},
		{"Ews", "Ews"},
		{"%3Cscript%3Ealert('x')%3C%2Fscript%3E", "scriptalertxscript"},
		{"a%22b%27c%5Cd%0A%E7%94%A8", "abcd"},
		{strings.Repeat("A", 100), strings.Repeat("A", 32)},
		{"", ""},
	} {
		resp, body := ts.do(t, "GET", PathJSON+"?Email=user@qq.com&Protocol="+tc.protocol, "", "")
		if resp.StatusCode != 400 {
			t.Errorf("%q: status %d", tc.protocol, resp.StatusCode)
		}
		var got struct{ ErrorCode, ErrorMessage string }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%q: %v", tc.protocol, err)
		}
		want := "The given protocol value '" + tc.want + "' is invalid. Supported values are 'AutodiscoverV1'"
		if got.ErrorCode != "InvalidProtocol" || got.ErrorMessage != want {
			t.Errorf("%q: got %+v, want message %q", tc.protocol, got, want)
		}
	}
}
