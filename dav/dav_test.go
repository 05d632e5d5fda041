package dav

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

const testConfig = `
providers:
  - id: groupware.example
    display_name: Groupware
    domains: [groupware.example, alias.example]
    incoming: [{type: imap, hostname: imap.groupware.example, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.groupware.example, port: 465, socket: SSL}]
    calendars:
      - url: http://dav.groupware.example/dav/
      - url: https://dav.groupware.example:8443/dav/
    contacts:
      - url: https://contacts.groupware.example/dav/
  - id: mailonly.example
    display_name: Mail only
    domains: [mailonly.example]
    incoming: [{type: imap, hostname: imap.mailonly.example, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.mailonly.example, port: 465, socket: SSL}]
`

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	cat, err := mailconf.Parse("dav.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpserver.New(httpserver.Options{}, New(cat)))
	t.Cleanup(srv.Close)
	return srv
}

// TestRedirect: the well-known URIs answer 301 to the https service, for every method
// DAV clients send, on the domain and its autoconfig name; elsewhere 404.
func TestRedirect(t *testing.T) {
	srv := newServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		name, method, host, path string
		status                   int
		location                 string
	}{
		{"caldav prefers https", MethodPropfind, "groupware.example", PathCalDAV, 301, "https://dav.groupware.example:8443/dav/"},
		{"carddav", http.MethodGet, "groupware.example", PathCardDAV, 301, "https://contacts.groupware.example/dav/"},
		{"alias with port", http.MethodHead, "Alias.Example:443", PathCardDAV, 301, "https://contacts.groupware.example/dav/"},
		{"autoconfig host", http.MethodOptions, "autoconfig.groupware.example", PathCalDAV, 301, "https://dav.groupware.example:8443/dav/"},
		{"any case path", http.MethodGet, "groupware.example", "/.Well-Known/CalDAV", 301, "https://dav.groupware.example:8443/dav/"},
		{"no service", http.MethodGet, "mailonly.example", PathCalDAV, 404, ""},
		{"unknown host", http.MethodGet, "other.example", PathCardDAV, 404, ""},
		{"hostile host", http.MethodGet, "<script>.example", PathCardDAV, 404, ""},
		{"other method", http.MethodPost, "groupware.example", PathCalDAV, 405, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			req.Host = tc.host
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Fatalf("%d Location %q, want %d %q", resp.StatusCode, resp.Header.Get("Location"), tc.status, tc.location)
			}
			if tc.status == 301 && !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=") {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
		})
	}
}

// TestPrepare: a reload changes where the redirect leads.
func TestPrepare(t *testing.T) {
	cat, err := mailconf.Parse("dav.yaml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	h := New(cat)
	srv := httptest.NewServer(httpserver.New(httpserver.Options{}, h))
	defer srv.Close()
	next, err := mailconf.Parse("dav.yaml", []byte(strings.Replace(testConfig, "contacts.groupware.example", "cards.groupware.example", 1)))
	if err != nil {
		t.Fatal(err)
	}
	commit, err := h.Prepare(next)
	if err != nil {
		t.Fatal(err)
	}
	commit()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+PathCardDAV, nil)
	req.Host = "groupware.example"
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Location") != "https://cards.groupware.example/dav/" {
		t.Fatalf("after reload: %q", resp.Header.Get("Location"))
	}
}
