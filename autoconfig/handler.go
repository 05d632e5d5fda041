package autoconfig

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
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

// documentSet maps every configured domain (in ASCII form) to its provider's prepared
// document.
type documentSet struct {
	byDomain map[string]entry
}

// entry is what a configured domain is answered with.
type entry struct {
	domain mailconf.Domain
	doc    *document
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
	set := &documentSet{byDomain: make(map[string]entry)}
	for _, p := range cat.Providers {
		doc, err := newDocument(p)
		if err != nil {
			return nil, err
		}
		for _, d := range p.Domains {
			set.byDomain[d.String()] = entry{domain: d, doc: doc}
		}
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
	e, ok := set.resolve(c)
	hdr := c.Response().Header()
	hdr["X-Content-Type-Options"] = noSniff
	if !ok {
		// Clients move on to their next source on 404 (docs/clients.md, autoconfig).
		hdr["Cache-Control"] = cacheControl
		return c.Blob(http.StatusNotFound, "text/plain; charset=utf-8", notFoundBody)
	}
	httpserver.NoteDomain(c, e.domain, e.doc.providerID)
	doc := e.doc
	hdr["Etag"] = doc.etagHeader
	hdr["Cache-Control"] = cacheControl
	if inm := c.Request().Header["If-None-Match"]; len(inm) > 0 && etagMatches(inm, doc.etag) {
		c.Response().WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr["Content-Type"] = contentTypeXML
	hdr["Content-Length"] = doc.contentLength
	c.Response().WriteHeader(http.StatusOK)
	if c.Request().Method == http.MethodHead {
		return nil
	}
	_, err := c.Response().Write(doc.body)
	return err
}

// resolve finds the configured domain a request is for. On the ISPDB path the domain is
// the path element; elsewhere it is the emailaddress parameter's domain when that is
// valid and configured (MX-derived lookups arrive on another host), else the Host
// header, bare or under autoconfig.
func (s *documentSet) resolve(c echo.Context) (entry, bool) {
	if strings.HasSuffix(c.Path(), "/:domain") {
		d, err := mailconf.ParseDomain(c.Param("domain"))
		if err != nil {
			return entry{}, false
		}
		e, ok := s.byDomain[d.String()]
		return e, ok
	}
	if addr, ok := httpserver.QueryParam(c.Request().URL.RawQuery, "emailaddress"); ok {
		if a, err := mailconf.ParseAddress(addr); err == nil {
			if e, ok := s.byDomain[a.Domain.String()]; ok {
				return e, true
			}
		}
	}
	host := httpserver.HostDomain(c.Request().Host)
	if e, ok := s.byDomain[host]; ok {
		return e, true
	}
	if d, ok := strings.CutPrefix(host, mailconf.AutoconfigPrefix); ok {
		if e, ok := s.byDomain[d]; ok {
			return e, true
		}
	}
	return entry{}, false
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
