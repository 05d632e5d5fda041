package mobileconfig

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// Path is where profiles are served: /email.mobileconfig?emailaddress=ADDR.
const Path = "/email.mobileconfig"

// Endpoint is the metric label of profile requests.
const Endpoint = "mobileconfig"

// ContentType is the type iOS and macOS install a profile from.
const ContentType = "application/x-apple-aspen-config"

// Signer returns the certificate to sign a profile asked for on host (the request's
// Host, lower case, without port), or nil to serve it unsigned.
type Signer func(host string) *tls.Certificate

// Handler serves profiles for the providers of one catalog at a time.
type Handler struct {
	current atomic.Pointer[state]
	signer  atomic.Pointer[Signer]
	log     *slog.Logger
}

type state struct {
	cat          *mailconf.Catalog
	organization string
}

// New returns a handler for cat; log receives signing failures (nil discards them).
func New(cat *mailconf.Catalog, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{log: log}
	h.current.Store(&state{cat: cat, organization: cat.Profile.Organization})
	return h
}

// Prepare returns the function that switches to a new catalog.
func (h *Handler) Prepare(cat *mailconf.Catalog) (func(), error) {
	s := &state{cat: cat, organization: cat.Profile.Organization}
	return func() { h.current.Store(s) }, nil
}

// SetSigner sets where signing certificates come from; nil serves profiles unsigned.
func (h *Handler) SetSigner(s Signer) {
	if s == nil {
		h.signer.Store(nil)
		return
	}
	h.signer.Store(&s)
}

// Routes is the profile path, for GET and HEAD.
func (h *Handler) Routes() []httpserver.Route {
	return []httpserver.Route{{Methods: []string{http.MethodGet, http.MethodHead}, Path: Path, Endpoint: Endpoint, Handler: h.Serve}}
}

// Serve answers one profile request. A missing or malformed address is 400, an address
// of a domain not served 404; both in plain text that repeats nothing of the request.
func (h *Handler) Serve(c echo.Context) error {
	s := h.current.Load()
	hdr := c.Response().Header()
	hdr.Set(echo.HeaderCacheControl, "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	raw, _ := httpserver.QueryParam(c.Request().URL.RawQuery, "emailaddress")
	a, err := mailconf.ParseAddress(strings.TrimSpace(raw))
	if err != nil {
		httpserver.NoteReason(c, "no valid emailaddress")
		return c.String(http.StatusBadRequest, "mailconf: give the email address to set up: "+Path+"?emailaddress=you@example.com\n")
	}
	p, ok := s.cat.Lookup(a.Domain)
	if !ok {
		return c.String(http.StatusNotFound, "mailconf: no mail settings are published for this domain.\n")
	}
	httpserver.NoteDomain(c, a.Domain, p.ID)
	lang := httpserver.Language(c.Request(), []string{"en", "zh-CN"}, p.DisplayName.Languages())
	body, err := Build(p, a, lang, s.organization)
	if err != nil {
		return err
	}
	if sp := h.signer.Load(); sp != nil {
		if cert := (*sp)(httpserver.HostDomain(c.Request().Host)); cert != nil {
			signed, err := Sign(body, cert)
			if err != nil {
				// Unsigned still installs (the device says "Unverified"); a broken signing
				// certificate must not keep people from their mail.
				h.log.Warn("profile not signed", slog.Any("err", err))
			} else {
				body = signed
			}
		}
	}
	hdr.Set("Content-Disposition", `attachment; filename="`+a.Domain.String()+`.mobileconfig"`)
	if c.Request().Method == http.MethodHead {
		hdr.Set(echo.HeaderContentType, ContentType)
		return c.NoContent(http.StatusOK)
	}
	return c.Blob(http.StatusOK, ContentType, body)
}
