package autoconfig

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"github.com/mailconf/mailconf"
)

// ErrUnknownDomain is reported when a request names no configured domain.
var ErrUnknownDomain = errors.New("autoconfig: unknown domain")

// Paths served. The ISPDB layout takes the domain as the last path element.
const (
	PathConfig          = "/mail/config-v1.1.xml"
	PathWellKnown       = "/.well-known/autoconfig/mail/config-v1.1.xml"
	PathWellKnownMailV1 = "/.well-known/mail-v1.xml" // GNOME Online Accounts asks here first (goamailclient.c)
	PathISPDB           = "/v1.1/:domain"            // Thunderbird mailnews.auto_config_url, ISPDB clients
	PathISPDBAlias      = "/autoconfig/v1.1/:domain"
)

// hostPrefix is the label clients put before the mail domain (autoconfig.<domain>).
const hostPrefix = "autoconfig."

// Header values shared by every response; capacity equals length (see headerValue).
var (
	contentTypeXML = headerValue("text/xml; charset=utf-8") // Thunderbird ignores other types (FetchHTTP)
	cacheControl   = headerValue("no-cache")
	noSniff        = headerValue("nosniff")
)

// notFoundBody is the fixed answer for unknown domains; nothing from the request is in it.
var notFoundBody = []byte("mailconf: no mail settings are published for this domain.\n")

// Handler answers autoconfig requests from documents prepared when the catalog loads.
type Handler struct {
	current atomic.Pointer[documentSet]
}

// documentSet maps every configured domain to its provider's prepared document.
type documentSet struct {
	byDomain map[string]*document
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
	set := &documentSet{byDomain: make(map[string]*document)}
	for _, p := range cat.Providers {
		doc, err := newDocument(p)
		if err != nil {
			return nil, err
		}
		for _, d := range p.Domains {
			set.byDomain[d] = doc
		}
	}
	return func() { h.current.Store(set) }, nil
}

// Register adds the autoconfig routes, for GET and HEAD, to e.
func (h *Handler) Register(e *echo.Echo) {
	for _, path := range []string{PathConfig, PathWellKnown, PathWellKnownMailV1, PathISPDB, PathISPDBAlias} {
		e.GET(path, h.ServeConfig)
		e.HEAD(path, h.ServeConfig)
	}
}

// ServeConfig answers one autoconfig request.
func (h *Handler) ServeConfig(c echo.Context) error {
	set := h.current.Load()
	domain, doc, err := set.resolve(c)
	hdr := c.Response().Header()
	hdr["X-Content-Type-Options"] = noSniff
	if err != nil {
		// Clients move on to their next source on 404 (autoconfig reference §6 rule 9).
		hdr["Cache-Control"] = cacheControl
		return c.Blob(http.StatusNotFound, "text/plain; charset=utf-8", notFoundBody)
	}
	// The request logger (httpserver) records the domain; never the address.
	if n, ok := c.Response().Writer.(interface{ NoteDomain(domain, provider string) }); ok {
		n.NoteDomain(domain, doc.providerID)
	}
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
	_, err = c.Response().Write(doc.body)
	return err
}

// resolve finds the domain a request is for and its document. On the ISPDB path the
// domain is the path element; elsewhere it is the emailaddress parameter's domain when
// that is valid and configured (MX-derived lookups arrive on another host), else the
// Host header, bare or under autoconfig.
func (s *documentSet) resolve(c echo.Context) (string, *document, error) {
	if strings.HasSuffix(c.Path(), "/:domain") {
		d, err := mailconf.NormalizeDomain(c.Param("domain"))
		if err != nil {
			return "", nil, fmt.Errorf("%w: %w", ErrUnknownDomain, err)
		}
		if doc, ok := s.byDomain[d]; ok {
			return d, doc, nil
		}
		return "", nil, ErrUnknownDomain
	}
	if addr, ok := mailconf.QueryParam(c.Request().URL.RawQuery, "emailaddress"); ok {
		if a, err := mailconf.ParseAddress(addr); err == nil {
			if doc, ok := s.byDomain[a.Domain]; ok {
				return a.Domain, doc, nil
			}
		}
	}
	host := mailconf.HostDomain(c.Request().Host)
	if doc, ok := s.byDomain[host]; ok {
		return host, doc, nil
	}
	if d, ok := strings.CutPrefix(host, hostPrefix); ok {
		if doc, ok := s.byDomain[d]; ok {
			return d, doc, nil
		}
	}
	return "", nil, ErrUnknownDomain
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
