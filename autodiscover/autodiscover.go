// Package autodiscover answers Outlook Autodiscover requests: POX XML, the JSON v2 endpoint and mobilesync.
package autodiscover

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// Paths served, in their canonical lowercase form; requests match them in any case
// (see Routes).
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
	// MaxBodySize is the largest POST body read; one byte more is read to detect overflow.
	MaxBodySize = 64 << 10
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

// Endpoint labels of Autodiscover requests, for metrics.
const (
	EndpointXML  = "autodiscover"
	EndpointJSON = "autodiscover-json"
)

// Routes are the Autodiscover paths. They match in any letter case (MS-OXDISCO: the path
// is "not case sensitive"; exchangelib and gromox send /Autodiscover/Autodiscover.xml,
// Android mail /AutoDiscover/AutoDiscover.xml).
func (h *Handler) Routes() []httpserver.Route {
	return []httpserver.Route{
		{Methods: []string{http.MethodPost}, Path: PathXML, Endpoint: EndpointXML, AnyCase: true, Handler: h.POX},
		{Methods: []string{http.MethodGet, http.MethodHead}, Path: PathXML, Endpoint: EndpointXML, AnyCase: true, Handler: h.Redirect},
		{Methods: []string{http.MethodGet}, Path: PathJSON, Endpoint: EndpointJSON, AnyCase: true, Handler: h.JSON},
		{Methods: []string{http.MethodGet}, Path: pathJSONv1 + "*", Endpoint: EndpointJSON, AnyCase: true, Handler: h.JSON},
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
