// Package dav answers the well-known CalDAV and CardDAV URIs of the served domains with
// redirects to the configured services (RFC 6764 §5).
package dav

import (
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// The well-known paths (RFC 6764 §5).
const (
	PathCalDAV  = "/.well-known/caldav"
	PathCardDAV = "/.well-known/carddav"
)

// Endpoint is the metric label of well-known DAV requests.
const Endpoint = "dav-redirect"

// MethodPropfind is WebDAV's PROPFIND (RFC 4918 §9.1): Thunderbird's CardDAV and
// CalDAV discovery sends it to the well-known URI first (CardDAVUtils.sys.mjs,
// CalDavProvider.sys.mjs) and follows the redirect.
const MethodPropfind = "PROPFIND"

// cacheControl lets clients keep the redirect a day: RFC 6764 §5 asks for "an
// appropriate Cache-Control", and the services move rarely.
var cacheControl = []string{"max-age=86400"}

// Handler redirects the well-known URIs for the providers of one catalog at a time.
type Handler struct {
	current atomic.Pointer[state]
}

// state is a catalog and, by provider id, where its well-known URIs lead.
type state struct {
	cat     *mailconf.Catalog
	targets map[mailconf.Domain]targets
}

// targets are the prepared Location values; nil where the provider has no service.
type targets struct{ calendars, contacts []string }

// New returns a handler for cat.
func New(cat *mailconf.Catalog) *Handler {
	h := &Handler{}
	h.current.Store(newState(cat))
	return h
}

// Prepare returns the function that switches to a new catalog.
func (h *Handler) Prepare(cat *mailconf.Catalog) (func(), error) {
	s := newState(cat)
	return func() { h.current.Store(s) }, nil
}

func newState(cat *mailconf.Catalog) *state {
	s := &state{cat: cat, targets: map[mailconf.Domain]targets{}}
	for _, p := range cat.Providers {
		s.targets[p.ID] = targets{calendars: location(p.Calendars), contacts: location(p.Contacts)}
	}
	return s
}

// location is the redirect target for a list of services: the one clients should use.
func location(list []mailconf.DAVService) []string {
	if s := mailconf.PreferredDAV(list); s != nil {
		return []string{s.URL.String()}
	}
	return nil
}

// Routes are the two well-known paths, for the methods DAV clients send there.
func (h *Handler) Routes() []httpserver.Route {
	methods := []string{http.MethodGet, http.MethodHead, MethodPropfind, http.MethodOptions}
	return []httpserver.Route{
		{Methods: methods, Path: PathCalDAV, Endpoint: Endpoint, AnyCase: true, Handler: h.serveCalDAV},
		{Methods: methods, Path: PathCardDAV, Endpoint: Endpoint, AnyCase: true, Handler: h.serveCardDAV},
	}
}

func (h *Handler) serveCalDAV(c echo.Context) error {
	return h.serve(c, func(t targets) []string { return t.calendars })
}

func (h *Handler) serveCardDAV(c echo.Context) error {
	return h.serve(c, func(t targets) []string { return t.contacts })
}

// serve redirects with 301, as Radicale and Google do (RFC 6764 §5 allows 301, 303 and
// 307), when the Host is a served domain (or its autoconfig. or autodiscover. name)
// whose provider has the service; otherwise 404.
func (h *Handler) serve(c echo.Context, pick func(targets) []string) error {
	s := h.current.Load()
	host := httpserver.HostDomain(c.Request().Host)
	d, p, ok := s.cat.LookupName(host)
	for _, prefix := range []string{mailconf.AutoconfigPrefix, mailconf.AutodiscoverPrefix} {
		if rest, cut := strings.CutPrefix(host, prefix); !ok && cut {
			d, p, ok = s.cat.LookupName(rest)
		}
	}
	if !ok {
		return c.String(http.StatusNotFound, "mailconf: no calendar or contacts service is published for this host.\n")
	}
	httpserver.NoteDomain(c, d, p.ID)
	loc := pick(s.targets[p.ID])
	if loc == nil {
		return c.String(http.StatusNotFound, "mailconf: this domain publishes no such service.\n")
	}
	hdr := c.Response().Header()
	hdr[echo.HeaderLocation] = loc
	hdr[echo.HeaderCacheControl] = cacheControl
	return c.NoContent(http.StatusMovedPermanently)
}
