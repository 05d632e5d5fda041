package autodiscover

import (
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestCanonicalPath(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ours     bool
	}{
		{"/autodiscover/autodiscover.xml", "/autodiscover/autodiscover.xml", true},
		{"/Autodiscover/Autodiscover.xml", "/autodiscover/autodiscover.xml", true},
		{"/AUTODISCOVER/AUTODISCOVER.XML", "/autodiscover/autodiscover.xml", true},
		{"/AutoDiscover/AutoDiscover.json", "/autodiscover/autodiscover.json", true},
		{"/autodiscover/autodiscover.json/v1.0/User@QQ.com", "/autodiscover/autodiscover.json/v1.0/User@QQ.com", true},
		{"/AutoDiscover/AutoDiscover.json/V1.0/User@QQ.com", "/autodiscover/autodiscover.json/v1.0/User@QQ.com", true},
		{"/Autodiscover/Autodiscover.json/Other/X", "/autodiscover/autodiscover.json/Other/X", true},
		{"/autodiscover/autodiscover.json/", "/autodiscover/autodiscover.json/", true},
		{"/", "", false},
		{"", "", false},
		{"/mail/config-v1.1.xml", "", false},
		{"/.well-known/autoconfig/mail/config-v1.1.xml", "", false},
		{"/autodiscover/autodiscover.xml/", "", false},
		{"/autodiscover/autodiscover.xmlx", "", false},
		{"/autodiscover/autodiscover.jsonx", "", false},
		{"/autodiscover/autodiscover.jso", "", false},
		{"/Autodiscover/Other.xml", "", false},
		{"/\x00utodiscover/autodiscover.xml", "", false},
		{"/!utodiscover/autodiscover.xml", "", false},
		{"/autodiſcover/autodiscover.xml", "", false}, // U+017F folds to s in Unicode, not in our paths
	} {
		got, ours := canonicalPath(tc.in)
		if got != tc.want || ours != tc.ours {
			t.Errorf("canonicalPath(%q) = %q, %v; want %q, %v", tc.in, got, ours, tc.want, tc.ours)
		}
	}
}

// TestCanonicalPathsMiddleware rewrites Path (and RawPath) for our paths only, and
// allocates nothing for the paths of other packages.
func TestCanonicalPathsMiddleware(t *testing.T) {
	e := echo.New()
	run := func(target string) *url.URL {
		req := httptest.NewRequest("GET", target, nil)
		c := e.NewContext(req, httptest.NewRecorder())
		if err := canonicalPaths(func(echo.Context) error { return nil })(c); err != nil {
			t.Fatal(err)
		}
		return req.URL
	}
	for _, tc := range []struct{ target, wantPath, wantRaw string }{
		{"/AutoDiscover/AutoDiscover.xml", PathXML, ""},
		{"/autodiscover/autodiscover%2Exml", PathXML, ""},
		{"/Autodiscover/Autodiscover.json/v1.0/a%2Fb@qq.com", "/autodiscover/autodiscover.json/v1.0/a/b@qq.com", "/autodiscover/autodiscover.json/v1.0/a%2Fb@qq.com"},
		{"/Autodiscover/Autodiscover.json/v1.0/a%2fb@qq.com?x=%2F", "/autodiscover/autodiscover.json/v1.0/a/b@qq.com", "/autodiscover/autodiscover.json/v1.0/a%2fb@qq.com"},
		{"/Autodiscover/Autodiscover%2Ejson/v1.0/a%2Fb@qq.com", "/autodiscover/autodiscover.json/v1.0/a/b@qq.com", ""},
		{"/Other/Path%2Fx", "/Other/Path/x", "/Other/Path%2Fx"},
		{"/Mail/Config-v1.1.xml", "/Mail/Config-v1.1.xml", ""},
	} {
		u := run(tc.target)
		if u.Path != tc.wantPath || u.RawPath != tc.wantRaw {
			t.Errorf("%s: Path %q RawPath %q, want %q %q", tc.target, u.Path, u.RawPath, tc.wantPath, tc.wantRaw)
		}
	}

	req := httptest.NewRequest("GET", "/mail/config-v1.1.xml?emailaddress=user@qq.com", nil)
	c := e.NewContext(req, httptest.NewRecorder())
	mw := canonicalPaths(func(echo.Context) error { return nil })
	for _, p := range []string{"/mail/config-v1.1.xml", "/Autodiscover/Other/Long/Path/That/Is/Not/Ours", PathXML, PathJSON} {
		req.URL.Path = p
		if n := testing.AllocsPerRun(100, func() { _ = mw(c) }); n != 0 {
			t.Errorf("%s: %v allocations per request, want 0", p, n)
		}
	}
}
