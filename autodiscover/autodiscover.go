// Package autodiscover answers Outlook Autodiscover requests: POX XML, the JSON v2 endpoint and mobilesync.
package autodiscover

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
)

// Paths served, in their canonical lowercase form. Requests match them case-insensitively
// (MS-OXDISCO: the path is "not case sensitive"; exchangelib and gromox send
// /Autodiscover/Autodiscover.xml, Android mail /AutoDiscover/AutoDiscover.xml).
const (
	// PathXML is the POX Autodiscover endpoint (MS-OXDSCLI).
	PathXML = "/autodiscover/autodiscover.xml"
	// PathJSON is the Autodiscover V2 endpoint; it also serves PathJSON+"/v1.0/{email}".
	PathJSON = "/autodiscover/autodiscover.json"

	pathJSONv1 = PathJSON + "/v1.0/"
)

// Namespaces, always http:// (the English POX pages' https:// is an artefact; the XSDs
// and exchangelib's AUTODISCOVER_* constants use http://).
const (
	nsRequestOutlook     = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	nsRequestMobilesync  = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
	nsResponseBase       = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	nsResponseOutlook    = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	nsResponseMobilesync = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
)

// Request body limits.
const (
	// maxBodySize is the largest POST body read; one byte more is read to detect overflow.
	maxBodySize = 64 << 10
	// defaultBodyReadTimeout bounds how long a client may take to send its body.
	defaultBodyReadTimeout = 10 * time.Second
)

// ErrPrepare is returned by New and Update when the documents of a catalog cannot be
// prepared; Update then keeps serving the previous documents.
var ErrPrepare = errors.New("autodiscover: cannot prepare documents")

// Handler serves Autodiscover from the documents prepared for one catalog. It is safe
// for concurrent use; Update swaps in a new catalog atomically.
type Handler struct {
	docs atomic.Pointer[documents]

	// now is the clock that stamps the Time attribute of error documents.
	now func() time.Time
	// serverID is the Id attribute of error documents, an unsigned integer identifying
	// this server (MS-ASCMD §2.2.3.63).
	serverID uint32
	// bodyReadTimeout bounds the time spent reading one POST body.
	bodyReadTimeout time.Duration

	scratch sync.Pool // of *scratch
}

// New prepares every per-provider document of cat and returns a Handler serving them.
func New(cat *mailconf.Catalog) (*Handler, error) {
	h := &Handler{
		now:             time.Now,
		serverID:        hostID(),
		bodyReadTimeout: defaultBodyReadTimeout,
	}
	h.scratch.New = func() any { return new(scratch) }
	if err := h.Update(cat); err != nil {
		return nil, err
	}
	return h, nil
}

// Update prepares the documents of cat and then swaps them in atomically. On error it
// keeps serving the previous documents.
func (h *Handler) Update(cat *mailconf.Catalog) error {
	commit, err := h.Prepare(cat)
	if err != nil {
		return err
	}
	commit()
	return nil
}

// Prepare builds the documents of cat and returns the function that switches to them,
// so a server can prepare every protocol before switching any.
func (h *Handler) Prepare(cat *mailconf.Catalog) (commit func(), err error) {
	d, err := prepare(cat)
	if err != nil {
		return nil, err
	}
	return func() { h.docs.Store(d) }, nil
}

// Register adds the Autodiscover routes to e, and an e.Pre middleware that maps every
// casing of those paths to the canonical lowercase form.
func (h *Handler) Register(e *echo.Echo) {
	e.Pre(canonicalPaths)
	h.RegisterRoutes(e)
}

// RegisterRoutes adds the Autodiscover routes to e without the path-casing middleware;
// the caller then applies CanonicalizePath to every request before routing.
func (h *Handler) RegisterRoutes(e *echo.Echo) {
	e.POST(PathXML, h.POX)
	e.GET(PathXML, h.Redirect)
	e.HEAD(PathXML, h.Redirect)
	e.GET(PathJSON, h.JSON)
	e.GET(pathJSONv1+"*", h.JSON)
}

// noter is the request logger's hook for the configured domain and provider a request
// resolved to. Addresses are never passed, only configured names.
type noter interface{ NoteDomain(domain, provider string) }

// noteDomain tells the request logger, if it listens, which configured domain and
// provider the request resolved to. The hook may sit on the echo.Context or, as
// httpserver's logging writer does, on the ResponseWriter or one it wraps.
func noteDomain(c echo.Context, domain, provider string) {
	if n, ok := c.(noter); ok {
		n.NoteDomain(domain, provider)
		return
	}
	if c == nil {
		return
	}
	w := c.Response().Writer
	for range 16 {
		if n, ok := w.(noter); ok {
			n.NoteDomain(domain, provider)
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return
		}
		w = u.Unwrap()
	}
}

// hostID derives a stable server Id from the host name, so that error documents from
// one machine carry one Id without revealing the name.
func hostID() uint32 {
	name, err := os.Hostname()
	if err != nil {
		name = "mailconf"
	}
	f := fnv.New32a()
	fmt.Fprint(f, name)
	return f.Sum32()
}

// CanonicalizePath is the package's CanonicalizePath, for servers that route several
// protocols (see RegisterRoutes).
func (h *Handler) CanonicalizePath(u *url.URL) { CanonicalizePath(u) }
