package autodiscover

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// POX answers a POST of an Autodiscover request (MS-OXDSCLI §3.2.5: the server "MUST
// respond to HTTP POST"). Every answer is HTTP 200 ("the 200 status only means that you
// have an Autodiscover response"): settings, or an error document. It never asks for
// credentials: Outlook sends Basic credentials to whoever challenges it.
func (h *Handler) POX(c echo.Context) error {
	d := h.docs.Load()
	s := h.scratch.Get().(*scratch)
	defer h.putScratch(s)

	body, err := h.readBody(c, s)
	if err != nil {
		// The rest of the body stays unread; do not keep the connection for another request.
		c.Response().Header().Set(echo.HeaderConnection, "close")
		httpserver.NoteReason(c, reason(err))
		return h.writeXML(c, s, d.invalidRequest, mailconf.Address{})
	}
	req, err := parseRequest(body)
	if err != nil {
		httpserver.NoteReason(c, reason(err))
		return h.writeXML(c, s, d.invalidRequest, mailconf.Address{})
	}
	t, addr := h.answer(c, d, req)
	return h.writeXML(c, s, t, addr)
}

// answer picks the document for a parsed request, and the address to fill in.
func (h *Handler) answer(c echo.Context, d *documents, req request) (template, mailconf.Address) {
	addr, known, err := identify(req)
	if err != nil {
		httpserver.NoteReason(c, reason(err))
		return d.invalidRequest, addr
	}
	var p *mailconf.Provider
	if known {
		if p, known = d.cat.Lookup(addr.Domain); known {
			httpserver.NoteDomain(c, addr.Domain, p.ID)
		}
	}
	switch schemaOf(req) {
	case schemaOutlook:
	case schemaMobilesync:
		if !d.imapForMobilesync {
			// New Outlook for Windows asks for mobilesync; without an ActiveSync server the
			// answer is 601 (as Z-Push answers), unless the deployment opts for IMAP.
			return d.mobilesync601, addr
		}
	default:
		return d.schemaUnavailable, addr
	}
	if !known {
		return d.addressNotFound, addr
	}
	t, err := d.success[p].Get()
	if err != nil {
		// Cannot happen: the validated model always renders. Outlook then moves on.
		httpserver.NoteReason(c, "document not prepared")
		return d.addressNotFound, addr
	}
	return t, addr
}

// identify returns the address a request asks about. LegacyDN wins over EMailAddress
// (MS-OXDSCLI request rules); a LegacyDN that is an X.500 DN rather than an address
// cannot be resolved here, so EMailAddress is used if present, else the request is
// for an address that cannot be found (known false). A missing or malformed
// EMailAddress is an invalid request.
func identify(req request) (addr mailconf.Address, known bool, err error) {
	if req.LegacyDN != "" {
		if a, err := mailconf.ParseAddress(req.LegacyDN); err == nil {
			return a, true, nil
		}
		if req.EMailAddress == "" {
			return mailconf.Address{}, false, nil
		}
	}
	if req.EMailAddress == "" {
		return mailconf.Address{}, false, errNoAddress
	}
	a, err := mailconf.ParseAddress(req.EMailAddress)
	if err != nil {
		return mailconf.Address{}, false, fmt.Errorf("%w: %w", errBadAddress, err)
	}
	return a, true, nil
}

// schema is a response schema a request can ask for.
type schema uint8

const (
	schemaUnknown schema = iota
	schemaOutlook
	schemaMobilesync
)

// schemaOf whitelists AcceptableResponseSchema: the value is compared, never written
// out. Without one, the root namespace decides (MS-ASCMD §2.2.3.1: mobilesync requests
// use the mobilesync request namespace). The https:// spelling printed on the English
// POX pages is accepted as the same schema.
func schemaOf(req request) schema {
	if req.Schema == "" {
		if req.Namespace == nsRequestMobilesync {
			return schemaMobilesync
		}
		return schemaOutlook
	}
	switch {
	case sameSchema(req.Schema, nsResponseOutlook):
		return schemaOutlook
	case sameSchema(req.Schema, nsResponseMobilesync):
		return schemaMobilesync
	}
	return schemaUnknown
}

// sameSchema compares a requested schema with an http:// namespace, ignoring case and
// an https scheme.
func sameSchema(got, ns string) bool {
	rest := strings.TrimPrefix(ns, "http://")
	switch {
	case len(got) == len(ns):
		return strings.EqualFold(got, ns)
	case len(got) == len(ns)+1 && strings.EqualFold(got[:8], "https://"):
		return strings.EqualFold(got[8:], rest)
	}
	return false
}

// Redirect answers a GET or HEAD on the XML path, Outlook's HTTP redirect method: 302
// to the configured canonical HTTPS URL (MS-OXDSCLI allows a 302 with
// Location). Without a configured URL, or when the request already arrived at that
// URL (a redirect would loop), it answers the 600 document asking for POST: never 404
// or 405, which make clients give up on the host (Stalwart #1695).
func (h *Handler) Redirect(c echo.Context) error {
	d := h.docs.Load()
	if d.url == "" || d.isCanonical(c) {
		s := h.scratch.Get().(*scratch)
		defer h.putScratch(s)
		return h.writeXML(c, s, d.postRequired, mailconf.Address{})
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return c.Redirect(http.StatusFound, d.url)
}

// isCanonical reports whether the request came over https to the host and path of the
// configured URL (which the catalog guarantees to be an https URL).
func (d *documents) isCanonical(c echo.Context) bool {
	// echo's Scheme() reads X-Forwarded-Proto; the server in front of this handler
	// (httpserver) removes it unless it comes from a trusted proxy.
	if c.Scheme() != "https" {
		return false
	}
	return httpserver.HostDomain(c.Request().Host) == d.urlHost.String() && strings.EqualFold(d.urlPath, PathXML)
}

// readBody reads at most MaxBodySize bytes of the POST body (one more to detect
// overflow) into s.body, within h.bodyReadTimeout.
func (h *Handler) readBody(c echo.Context, s *scratch) ([]byte, error) {
	r := c.Request()
	rc := http.NewResponseController(c.Response().Writer)
	// A stalled body must not hold the handler forever. A server whose ReadTimeout is
	// stricter keeps its own deadline; ErrNotSupported (a recorder) is ignored.
	if srv, ok := r.Context().Value(http.ServerContextKey).(*http.Server); !ok || srv.ReadTimeout <= 0 || srv.ReadTimeout > h.bodyReadTimeout {
		_ = rc.SetReadDeadline(time.Now().Add(h.bodyReadTimeout))
	}
	if r.ContentLength > MaxBodySize && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// The client waits for 100 Continue before sending; we refuse without asking for it.
		return nil, errTooLarge
	}
	// MaxBytesReader on the server's own ResponseWriter also makes net/http close the
	// connection gracefully instead of reading the rest.
	if r.Body == nil {
		return nil, nil
	}
	var body io.Reader = r.Body
	if r.ContentLength < 0 || r.ContentLength > MaxBodySize {
		// A body of a known, allowed length ends on its own; any other is cut here.
		body = http.MaxBytesReader(innermost(c.Response().Writer), r.Body, MaxBodySize)
	}
	if cap(s.body) < MaxBodySize+1 {
		s.body = make([]byte, MaxBodySize+1)
	}
	n, err := io.ReadFull(body, s.body[:MaxBodySize+1])
	switch {
	case (err == io.EOF || err == io.ErrUnexpectedEOF) && int64(n) < r.ContentLength:
		// The client closed before sending what it declared: a cut request, whatever
		// the part that came looks like.
		return nil, errBodyRead
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return s.body[:n], nil
	case err == nil, isMaxBytes(err):
		// Read no further: a deadline in the past also stops net/http from draining up
		// to 256 KiB of a chunked body after the handler returns.
		_ = rc.SetReadDeadline(time.Unix(1, 0))
		return nil, errTooLarge
	default:
		return nil, errBodyRead
	}
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// innermost unwraps middleware ResponseWriters down to the server's own, which
// http.MaxBytesReader needs to mark the request as too large.
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for range 16 {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	return w
}

// writeXML renders t, filling in addr (unused by error documents), and writes it as an
// HTTP 200 answer.
func (h *Handler) writeXML(c echo.Context, s *scratch, t template, addr mailconf.Address) error {
	f := fill{addr: addr, time: h.now(), id: h.serverID}
	s.out = s.out[:0]
	t.render(s, &f)
	hdr := c.Response().Header()
	hdr["Cache-Control"] = noStore
	hdr["Content-Type"] = contentTypeXML
	c.Response().WriteHeader(http.StatusOK)
	_, err := c.Response().Write(s.out)
	return err
}

// Header values written on every answer; capacity 1, so that an Add elsewhere copies.
var (
	noStore        = []string{"no-store"}[:1:1]
	contentTypeXML = []string{httpserver.ContentTypeXML}[:1:1]
)

// putScratch returns s to the pool unless a large answer grew it.
func (h *Handler) putScratch(s *scratch) {
	if cap(s.out) > 64<<10 || cap(s.tmp) > 4<<10 {
		return
	}
	h.scratch.Put(s)
}
