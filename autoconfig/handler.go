package autoconfig

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/parallel"
)

// Paths served. The ISPDB layout takes the domain as the last path element.
const (
	PathConfig          = "/mail/config-v1.1.xml"
	PathWellKnown       = "/.well-known/autoconfig/mail/config-v1.1.xml"
	PathWellKnownMailV1 = "/.well-known/mail-v1.xml" // GNOME Online Accounts asks here first (goamailclient.c)
	PathISPDB           = "/v1.1/:domain"            // Thunderbird mailnews.auto_config_url, ISPDB clients
	PathISPDBAlias      = "/autoconfig/v1.1/:domain"
)

// Endpoint is the metric label of autoconfig requests.
const Endpoint = "autoconfig"

// Header values shared by every response; capacity equals length (see headerValue).
var (
	contentTypeXML = headerValue(httpserver.ContentTypeXML) // Thunderbird ignores other types (FetchHTTP.sys.mjs)
	cacheControl   = headerValue("no-cache")
	noSniff        = headerValue("nosniff")
)

// notFoundBody is the fixed answer for unknown domains; nothing from the request is in it.
var notFoundBody = []byte("mailconf: no mail settings are published for this domain.\n")

// Handler answers autoconfig requests from documents prepared when the catalog loads.
type Handler struct {
	current atomic.Pointer[documentSet]
}

// documentSet is the catalog and every provider's document, prepared when the catalog
// loads (past the first parallel.Eager providers, on first use).
type documentSet struct {
	cat  *mailconf.Catalog
	docs map[*mailconf.Provider]*parallel.Lazy[*document]
}

// New prepares the documents of every provider in cat.
func New(cat *mailconf.Catalog) (*Handler, error) {
	h := &Handler{}
	if err := h.Update(cat); err != nil {
		return nil, err
	}
	return h, nil
}

// Update prepares the documents for a new catalog and then switches to them
// atomically. On error the documents in use stay.
func (h *Handler) Update(cat *mailconf.Catalog) error {
	commit, err := h.Prepare(cat)
	if err != nil {
		return err
	}
	commit()
	return nil
}

// Prepare builds the documents for a new catalog and returns the function that switches
// to them, so a server can prepare every protocol before switching any.
func (h *Handler) Prepare(cat *mailconf.Catalog) (commit func(), err error) {
	docs, err := parallel.Prepare(len(cat.Providers), func(i int) (*document, error) { return newDocument(cat.Providers[i]) })
	if err != nil {
		return nil, err
	}
	set := &documentSet{cat: cat, docs: make(map[*mailconf.Provider]*parallel.Lazy[*document], len(cat.Providers))}
	for i, p := range cat.Providers {
		set.docs[p] = docs[i]
	}
	return func() { h.current.Store(set) }, nil
}

// Routes are the autoconfig paths, for GET and HEAD.
func (h *Handler) Routes() []httpserver.Route {
	var routes []httpserver.Route
	for _, path := range []string{PathConfig, PathWellKnown, PathWellKnownMailV1, PathISPDB, PathISPDBAlias} {
		routes = append(routes, httpserver.Route{
			Methods:  []string{http.MethodGet, http.MethodHead},
			Path:     path,
			Endpoint: Endpoint,
			Handler:  h.ServeConfig,
		})
	}
	return routes
}

// ServeConfig answers one autoconfig request.
func (h *Handler) ServeConfig(c echo.Context) error {
	set := h.current.Load()
	domain, lazyDoc, ok := set.resolve(c)
	hdr := c.Response().Header()
	hdr["X-Content-Type-Options"] = noSniff
	if !ok {
		// Clients move on to their next source on 404 (docs/clients.md, autoconfig).
		hdr["Cache-Control"] = cacheControl
		return c.Blob(http.StatusNotFound, "text/plain; charset=utf-8", notFoundBody)
	}
	doc, err := lazyDoc.Get()
	if err != nil {
		return err // cannot happen: the validated model always renders
	}
	httpserver.NoteDomain(c, domain, doc.providerID)
	body, etag := doc.body, doc.etag
	if doc.parts == nil {
		hdr["Etag"] = doc.etagHeader
		hdr["Content-Length"] = doc.contentLength
	} else {
		body, etag = doc.forDomain(domain)
		hdr["Etag"] = []string{etag}
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	hdr["Cache-Control"] = cacheControl
	if inm := c.Request().Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm, etag) {
		delete(hdr, "Content-Length")
		c.Response().WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr["Content-Type"] = contentTypeXML
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err = c.Response().Write(body)
	return err
}

// resolve finds the configured domain a request is for. On the ISPDB path the domain is
// the path element; elsewhere it is the emailaddress parameter's domain when that is
// valid and configured (MX-derived lookups arrive on another host), else the Host
// header, bare or under autoconfig.
func (s *documentSet) resolve(c echo.Context) (mailconf.Domain, *parallel.Lazy[*document], bool) {
	find := func(name string) (mailconf.Domain, *parallel.Lazy[*document], bool) {
		d, p, ok := s.cat.LookupName(name)
		if !ok {
			return d, nil, false
		}
		return d, s.docs[p], true
	}
	if strings.HasSuffix(c.Path(), "/:domain") {
		d, err := mailconf.ParseDomain(c.Param("domain"))
		if err != nil {
			return mailconf.Domain{}, nil, false
		}
		return find(d.String())
	}
	if addr, ok := httpserver.QueryParam(c.Request().URL.RawQuery, "emailaddress"); ok {
		if a, err := mailconf.ParseAddress(addr); err == nil {
			if d, doc, ok := find(a.Domain.String()); ok {
				return d, doc, true
			}
		}
	}
	host := httpserver.HostDomain(c.Request().Host)
	if d, doc, ok := find(host); ok {
		return d, doc, true
	}
	if rest, ok := strings.CutPrefix(host, mailconf.AutoconfigPrefix); ok {
		return find(rest)
	}
	return mailconf.Domain{}, nil, false
}

// etagMatches applies the weak comparison RFC 9110 §13.1.2 asks for If-None-Match.
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for h != "" {
			var tag string
			tag, h, _ = strings.Cut(h, ",")
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
