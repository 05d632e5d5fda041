// Package mtasts serves the MTA-STS policies of the served domains over HTTPS, at
// https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3.3).
package mtasts

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// Path is where senders fetch a policy (RFC 8461 §3.2).
const Path = "/.well-known/mta-sts.txt"

// Endpoint is the metric label of policy requests.
const Endpoint = "mta-sts"

// ContentType is the policy's media type: senders check for text/plain (RFC 8461 §3.2).
const ContentType = "text/plain; charset=utf-8"

// Handler serves the policies of one catalog at a time.
type Handler struct {
	current atomic.Pointer[state]
}

// state is a catalog and, by provider id, its prepared policy response.
type state struct {
	cat      *mailconf.Catalog
	policies map[mailconf.Domain]*policy
}

type policy struct {
	body          []byte
	contentLength []string
}

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
	s := &state{cat: cat, policies: map[mailconf.Domain]*policy{}}
	for _, p := range cat.Providers {
		if p.MTASTS != nil {
			body := []byte(p.MTASTS.Text())
			s.policies[p.ID] = &policy{body: body, contentLength: []string{strconv.Itoa(len(body))}}
		}
	}
	return s
}

// Routes is the policy path, for GET and HEAD.
func (h *Handler) Routes() []httpserver.Route {
	return []httpserver.Route{{Methods: []string{http.MethodGet, http.MethodHead}, Path: Path, Endpoint: Endpoint, Handler: h.Serve}}
}

// noStore keeps shared caches out of it: senders must not use HTTP caching (RFC 8461
// §3.3) and cache the policy by its max_age instead.
var noStore = []string{"no-store"}

// Serve answers a policy request: 200 with the policy when the request came over HTTPS
// to mta-sts.<d> for a served domain d whose provider has a policy; otherwise 404, never
// a redirect (senders must not follow one, RFC 8461 §3.3).
func (h *Handler) Serve(c echo.Context) error {
	s := h.current.Load()
	hdr := c.Response().Header()
	if c.Scheme() != "https" {
		httpserver.NoteReason(c, "not over HTTPS")
		return c.String(http.StatusNotFound, "mailconf: MTA-STS policies are served over HTTPS only (RFC 8461 §3.3).\n")
	}
	rest, ok := strings.CutPrefix(httpserver.HostDomain(c.Request().Host), mailconf.MTASTSPrefix)
	if !ok {
		return c.String(http.StatusNotFound, "mailconf: policies are served on mta-sts.<domain>.\n")
	}
	d, p, ok := s.cat.LookupName(rest)
	if !ok {
		return c.String(http.StatusNotFound, "mailconf: no MTA-STS policy is published for this domain.\n")
	}
	httpserver.NoteDomain(c, d, p.ID)
	pol := s.policies[p.ID]
	if pol == nil {
		return c.String(http.StatusNotFound, "mailconf: no MTA-STS policy is published for this domain.\n")
	}
	hdr[echo.HeaderCacheControl] = noStore
	hdr[echo.HeaderContentLength] = pol.contentLength
	hdr.Set("X-Content-Type-Options", "nosniff")
	if c.Request().Method == http.MethodHead {
		hdr.Set(echo.HeaderContentType, ContentType)
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, ContentType, pol.body)
}
