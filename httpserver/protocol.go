package httpserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
)

// ContentTypeXML is the Content-Type of every XML answer: Thunderbird ignores an
// autoconfig file of another type (FetchHTTP.sys.mjs), and Outlook and exchangelib send
// and read this one.
const ContentTypeXML = "text/xml; charset=utf-8"

// EndpointOther is the endpoint label of requests no route declares.
const EndpointOther = "other"

// EndpointLabels returns every endpoint label requests to the protocols can carry:
// those their routes declare, and EndpointOther.
func EndpointLabels(protocols ...Protocol) []string {
	t := &endpointTable{exact: map[string]string{}}
	for _, p := range protocols {
		for _, r := range p.Routes() {
			t.add(r)
		}
	}
	return t.labels()
}

// endpointTable knows the routes' paths: it labels requests for metrics and folds the
// letter case of AnyCase paths before routing. It is built once and read-only after.
type endpointTable struct {
	exact    map[string]string // static path → label
	prefixes []prefixRoute     // paths with a :param or *, and AnyCase static paths
	all      []string          // every label
}

// prefixRoute is a route matched by the fixed part of its path.
type prefixRoute struct {
	fixed   string // the path up to a :param or *; the whole path when static
	static  bool   // the path is fixed, so it must match whole
	anyCase bool
	label   string
}

func (t *endpointTable) add(r Route) {
	if !slices.Contains(t.all, r.Endpoint) {
		t.all = append(t.all, r.Endpoint)
	}
	fixed, static := r.Path, true
	if i := strings.IndexAny(r.Path, ":*"); i >= 0 {
		fixed, static = r.Path[:i], false
	}
	if static && !r.AnyCase {
		t.exact[r.Path] = r.Endpoint
		return
	}
	for _, p := range t.prefixes {
		if p.fixed == fixed && p.static == static {
			return
		}
	}
	t.prefixes = append(t.prefixes, prefixRoute{fixed: fixed, static: static, anyCase: r.AnyCase, label: r.Endpoint})
}

func (t *endpointTable) labels() []string {
	return append(slices.Clone(t.all), EndpointOther)
}

// match reports whether path is p's path, or starts with p's fixed part.
func (p *prefixRoute) match(path string) bool {
	if p.static && len(path) != len(p.fixed) || len(path) < len(p.fixed) {
		return false
	}
	head := path[:len(p.fixed)]
	if p.anyCase {
		return strings.EqualFold(head, p.fixed)
	}
	return head == p.fixed
}

// label returns the endpoint label of a (canonicalized) request path.
func (t *endpointTable) label(path string) string {
	if l, ok := t.exact[path]; ok {
		return l
	}
	for i := range t.prefixes {
		if t.prefixes[i].match(path) {
			return t.prefixes[i].label
		}
	}
	return EndpointOther
}

// fixedPart returns the fixed part of the route path (a canonicalized request path)
// matches when that route takes a parameter ("/v1.1/"), else "/".
func (t *endpointTable) fixedPart(path string) string {
	for i := range t.prefixes {
		if p := &t.prefixes[i]; !p.static && p.match(path) {
			return p.fixed
		}
	}
	return "/"
}

// canonicalize rewrites u's path in place to the declared spelling when it matches an
// AnyCase route in another letter case; other paths are left alone, without allocating.
// Only the fixed part is folded: a parameter after it (an address) keeps its case.
func (t *endpointTable) canonicalize(u *url.URL) {
	for i := range t.prefixes {
		p := &t.prefixes[i]
		if !p.anyCase || !p.match(u.Path) {
			continue
		}
		if u.Path[:len(p.fixed)] != p.fixed {
			u.Path = p.fixed + u.Path[len(p.fixed):]
		}
		// echo routes on RawPath when set: fold it the same way, so that it stays the
		// encoding of Path (an encoded "/" in a parameter stays one segment for the
		// request log), or drop it when its fixed part is itself encoded.
		if u.RawPath != "" {
			if p.match(u.RawPath) {
				u.RawPath = p.fixed + u.RawPath[len(p.fixed):]
			} else {
				u.RawPath = ""
			}
		}
		return
	}
}

// writerOf finds the request log's writer behind an echo context, through any
// middleware writers that wrap it.
func writerOf(c echo.Context) *loggingWriter {
	if c == nil || c.Response() == nil {
		return nil
	}
	w := c.Response().Writer
	for range 16 {
		if lw, ok := w.(*loggingWriter); ok {
			return lw
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// NoteDomain tells the request log and the metrics which configured domain and provider
// a request resolved to. Only configured names are passed, never an address.
func NoteDomain(c echo.Context, domain mailconf.Domain, provider mailconf.Domain) {
	if lw := writerOf(c); lw != nil {
		lw.domain = domain.String()
		lw.provider = provider.String()
	}
}

// NoteReason tells the request log why a request was refused. The reason is a fixed
// text chosen by the handler: never request data.
func NoteReason(c echo.Context, reason string) {
	if lw := writerOf(c); lw != nil {
		lw.reason = reason
	}
}

// QueryParam returns the value of the first parameter called name (compared without
// regard to case) in a raw query string. It decodes %XX escapes but does not
// form-decode: FairEmail, GOA and Nextcloud send addresses raw, so a literal "+" must
// stay a plus (url.ParseQuery would turn it into a space), while %40 and %2B are
// decoded (Thunderbird URLSearchParams, Delta Chat). A value with a bad escape is
// reported as absent. See docs/clients.md.
func QueryParam(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		key, value, _ := strings.Cut(pair, "=")
		if !strings.EqualFold(key, name) {
			continue
		}
		if strings.IndexByte(value, '%') < 0 {
			return value, true
		}
		v, err := url.PathUnescape(value)
		if err != nil {
			return "", false
		}
		return v, true
	}
	return "", false
}

// maxHostLen bounds the Host values HostDomain looks at: a domain name and a port.
const maxHostLen = 253 + len(":65535") + 2

// HostDomain reduces an HTTP Host header to a lowercase name: it strips the port and a
// trailing dot, and turns Unicode into A-labels. It returns "" for a value that cannot
// be a domain. The result still has to be looked up; it may carry a prefix such as
// "autoconfig.".
func HostDomain(host string) string {
	if len(host) > maxHostLen {
		return ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	ascii := true
	lower := true
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c >= 0x80 {
			ascii = false
			break
		}
		if 'A' <= c && c <= 'Z' {
			lower = false
		}
	}
	switch {
	case !ascii:
		d, err := mailconf.ParseDomain(host)
		if err != nil {
			return ""
		}
		return d.String()
	case !lower:
		return strings.ToLower(host)
	}
	return host
}
