// Package templates renders the pages people read, in English and Chinese, from
// embedded html/template files: the index, the setup page of every provider (servers,
// step-by-step instructions for the common apps, troubleshooting, the Apple profile and
// its QR code) and the error pages.
package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

//go:embed pages
var files embed.FS

// Paths served.
const (
	PathIndex       = "/"
	PathSetup       = "/setup"
	PathSetupDomain = "/setup/:domain"
)

// Endpoint is the metric label of page requests.
const Endpoint = "pages"

// Links are the paths of the other protocols' endpoints, which the setup page links.
type Links struct {
	Autoconfig       string // the autoconfig file; ?emailaddress= is added
	ISPDB            string // the autoconfig file by domain; the domain is added
	AutodiscoverJSON string // Autodiscover v2; ?Email=&Protocol=AutodiscoverV1 is added
	Profile          string // the Apple profile; ?emailaddress= is added
}

// Handler serves the pages of one catalog at a time, prepared when it loads: a request
// fills in only the address (and the QR code made from it).
type Handler struct {
	links   Links
	pages   map[string]*template.Template // by file
	css     template.CSS
	csp     string
	current atomic.Pointer[pageSet]
}

// New parses the templates and prepares the pages of cat.
func New(cat *mailconf.Catalog, links Links) (*Handler, error) {
	css, err := files.ReadFile("pages/style.css")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	sum := sha256.Sum256(css)
	h := &Handler{
		links: links,
		pages: map[string]*template.Template{},
		css:   template.CSS(css),
		// Nothing but this page's own style: no script, no request leaving for another
		// site (the QR code is inline SVG), no framing.
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
			"'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	}
	for _, name := range []string{"index", "setup", "error"} {
		t, err := template.ParseFS(files, "pages/layout.html", "pages/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		h.pages[name] = t
	}
	commit, err := h.Prepare(cat)
	if err != nil {
		return nil, err
	}
	commit()
	return h, nil
}

// Routes are the pages, for GET and HEAD.
func (h *Handler) Routes() []httpserver.Route {
	methods := []string{http.MethodGet, http.MethodHead}
	return []httpserver.Route{
		{Methods: methods, Path: PathIndex, Endpoint: Endpoint, Handler: h.Index},
		{Methods: methods, Path: PathSetup, Endpoint: Endpoint, Handler: h.Setup},
		{Methods: methods, Path: PathSetupDomain, Endpoint: Endpoint, Handler: h.Setup},
	}
}

// pageSet is every page of one catalog, by language. Setup pages are rendered when the
// catalog loads for the first providers (prewarmProviders), the others on first use;
// either way a page is rendered once per catalog, up to maxSetupPages of them.
type pageSet struct {
	h         *Handler
	cat       *mailconf.Catalog
	publicURL string
	index     map[string][]byte
	notFound  map[string]page // slot: the domain
	bad       map[string][]byte

	mu    sync.Mutex
	setup map[setupKey]page
}

// Setup page caching: a deployment of a few providers has all of them ready at load;
// one of ten thousand renders each on first use (about 0.3 ms) and keeps at most
// maxSetupPages.
const (
	prewarmProviders = 16
	maxSetupPages    = 4096
)

// setupPage returns the setup page of a provider in a language, for one address or for
// a domain.
func (s *pageSet) setupPage(p *mailconf.Provider, lang string, address bool) (page, error) {
	key := setupKey{p.ID, lang, address}
	s.mu.Lock()
	pg, ok := s.setup[key]
	s.mu.Unlock()
	if ok {
		return pg, nil
	}
	b, err := s.h.render("setup", s.h.setupView(s.cat, p, lang, address))
	if err != nil {
		return nil, err
	}
	pg = cut(b)
	s.mu.Lock()
	if len(s.setup) < maxSetupPages {
		s.setup[key] = pg
	}
	s.mu.Unlock()
	return pg, nil
}

type setupKey struct {
	provider mailconf.Domain
	lang     string
	address  bool // the page for one address, or for any address of a domain
}

// Prepare renders every page of cat and returns the function that switches to them.
func (h *Handler) Prepare(cat *mailconf.Catalog) (func(), error) {
	s := &pageSet{
		h:        h,
		cat:      cat,
		index:    map[string][]byte{},
		setup:    map[setupKey]page{},
		notFound: map[string]page{},
		bad:      map[string][]byte{},
	}
	if u := cat.HTTP.PublicURL; u != nil {
		s.publicURL = strings.TrimSuffix(u.String(), "/")
	}
	for _, lang := range Languages {
		b, err := h.render("index", h.indexView(cat, lang))
		if err != nil {
			return nil, err
		}
		s.index[lang] = b
		for _, p := range cat.Providers[:min(len(cat.Providers), prewarmProviders)] {
			for _, withAddress := range []bool{true, false} {
				if _, err := s.setupPage(p, lang, withAddress); err != nil {
					return nil, err
				}
			}
		}
		t := ui[lang]
		b, err = h.render("error", h.errorView(lang, t.NotFoundTitle, fmt.Sprintf(t.NotFoundDomain, markers[slotDomain])))
		if err != nil {
			return nil, err
		}
		s.notFound[lang] = cut(b)
		if s.bad[lang], err = h.render("error", h.errorView(lang, t.BadRequestTitle, t.BadRequest)); err != nil {
			return nil, err
		}
	}
	return func() { h.current.Store(s) }, nil
}

func (h *Handler) render(name string, data any) ([]byte, error) {
	var b bytes.Buffer
	if err := h.pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
		return nil, fmt.Errorf("templates: %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// Index answers / with the index page.
func (h *Handler) Index(c echo.Context) error {
	s := h.current.Load()
	lang := httpserver.Language(c.Request(), Languages, firstLanguages(s.cat))
	return h.write(c, http.StatusOK, s.index[lang], false)
}

// Setup answers /setup?emailaddress=ADDR and /setup/<domain>.
func (h *Handler) Setup(c echo.Context) error {
	s := h.current.Load()
	r := c.Request()
	var f fill
	var domain mailconf.Domain
	if c.Param("domain") != "" {
		d, err := mailconf.ParseDomain(c.Param("domain"))
		if err != nil {
			return h.badRequest(c, s)
		}
		domain = d
	} else {
		raw, _ := httpserver.QueryParam(r.URL.RawQuery, "emailaddress")
		a, err := mailconf.ParseAddress(strings.TrimSpace(raw))
		if err != nil {
			return h.badRequest(c, s)
		}
		domain, f.address = a.Domain, a
	}
	f.domain = domain
	p, ok := s.cat.Lookup(domain)
	if !ok {
		lang := httpserver.Language(r, Languages, firstLanguages(s.cat))
		return h.write(c, http.StatusNotFound, s.notFound[lang].render(nil, &f), true)
	}
	httpserver.NoteDomain(c, domain, p.ID)
	lang := httpserver.Language(r, Languages, p.DisplayName.Languages())
	pg, err := s.setupPage(p, lang, !f.address.IsZero())
	if err != nil {
		return err
	}
	if !f.address.IsZero() {
		if base := baseURL(c, s.publicURL); base != "" {
			qr, err := qrSVG(base+h.links.Profile+"?emailaddress="+url.QueryEscape(f.address.String()), html.EscapeString(ui[lang].ProfileDownload))
			if err != nil {
				return err
			}
			f.qr = qr
		}
	}
	return h.write(c, http.StatusOK, pg.render(make([]byte, 0, pg.size()+len(f.qr)+256), &f), !f.address.IsZero())
}

func (h *Handler) badRequest(c echo.Context, s *pageSet) error {
	httpserver.NoteReason(c, "not an email address or domain")
	lang := httpserver.Language(c.Request(), Languages, firstLanguages(s.cat))
	return h.write(c, http.StatusBadRequest, s.bad[lang], false)
}

// write answers with a page. Pages that name an address are not stored anywhere.
func (h *Handler) write(c echo.Context, status int, body []byte, personal bool) error {
	hdr := c.Response().Header()
	hdr.Set("Content-Security-Policy", h.csp)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	if personal {
		hdr.Set(echo.HeaderCacheControl, "no-store")
	} else {
		hdr.Set(echo.HeaderCacheControl, "no-cache")
	}
	if c.Request().Method == http.MethodHead {
		hdr.Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		hdr.Set(echo.HeaderContentLength, strconv.Itoa(len(body)))
		return c.NoContent(status)
	}
	return c.HTMLBlob(status, body)
}

// baseURL is where the phone that scans the QR code reaches this server: the configured
// public URL, else the scheme and host of the request, the host reduced to a name (or
// IP address) and a numeric port, so nothing else of the header reaches the page.
func baseURL(c echo.Context, public string) string {
	if public != "" {
		return public
	}
	hostport := c.Request().Host
	host := httpserver.HostDomain(hostport)
	if _, err := mailconf.ParseDomain(host); err != nil {
		if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err != nil || a.Zone() != "" {
			return "" // not a name a phone could reach
		}
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		if p, err := strconv.ParseUint(hostport[i+1:], 10, 16); err == nil && p > 0 {
			host += ":" + strconv.FormatUint(p, 10)
		}
	}
	return c.Scheme() + "://" + host
}

// firstLanguages are the languages of the first provider, for pages of no provider.
func firstLanguages(cat *mailconf.Catalog) []string {
	if len(cat.Providers) == 0 {
		return nil
	}
	return cat.Providers[0].DisplayName.Languages()
}

// slot is a request-dependent part of a prepared page.
type slot uint8

const (
	slotNone slot = iota
	slotAddress
	slotAddressQuery
	slotLocalPart
	slotDomain      // for people: Unicode
	slotDomainASCII // in usernames and paths
	slotQR
	numSlots
)

// markers stand for the slots while a page is rendered: letters and digits only, so
// html/template writes them unchanged in text, attributes and URLs.
var markers = [numSlots]string{
	slotAddress:      "mcSlotAddr7x",
	slotAddressQuery: "mcSlotAddrQ7x",
	slotLocalPart:    "mcSlotLocal7x",
	slotDomain:       "mcSlotDom7x",
	slotDomainASCII:  "mcSlotDomA7x",
	slotQR:           "mcSlotQR7x",
}

// fill is what one request puts into the slots.
type fill struct {
	address mailconf.Address
	domain  mailconf.Domain
	qr      string // trusted markup made by qrSVG
}

type segment struct {
	text []byte
	slot slot
}

// page is a rendered page cut at its slots.
type page []segment

func cut(b []byte) page {
	var p page
	for {
		at, which := len(b), slotNone
		for s := slotAddress; s < numSlots; s++ {
			if i := bytes.Index(b, []byte(markers[s])); i >= 0 && i < at {
				at, which = i, s
			}
		}
		p = append(p, segment{text: bytes.Clone(b[:at]), slot: which})
		if which == slotNone {
			return p
		}
		b = b[at+len(markers[which]):]
	}
}

func (p page) size() int {
	n := 0
	for _, s := range p {
		n += len(s.text)
	}
	return n
}

// render appends the page with f's values, escaped, to dst.
func (p page) render(dst []byte, f *fill) []byte {
	for _, s := range p {
		dst = append(dst, s.text...)
		switch s.slot {
		case slotAddress:
			dst = append(dst, html.EscapeString(f.address.String())...)
		case slotAddressQuery:
			dst = append(dst, html.EscapeString(url.QueryEscape(f.address.String()))...)
		case slotLocalPart:
			dst = append(dst, html.EscapeString(f.address.LocalPart)...)
		case slotDomain:
			dst = append(dst, html.EscapeString(f.domain.Unicode())...)
		case slotDomainASCII:
			dst = append(dst, html.EscapeString(f.domain.String())...)
		case slotQR:
			dst = append(dst, f.qr...)
		}
	}
	return dst
}
