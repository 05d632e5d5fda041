// Package httpserver puts the protocol handlers behind one http.Handler that logs each
// request, recovers from panics and renders errors, and configures the listeners.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// Route is one endpoint of a protocol: the methods and echo path it answers, the
// label its requests carry in metrics, and its handler.
type Route struct {
	// Methods are the HTTP methods answered.
	Methods []string
	// Path is an echo path: static, with one :param element, or ending in *.
	Path string
	// Endpoint is the metric label of requests to this path: a fixed word, so labels
	// stay bounded whatever clients send.
	Endpoint string
	// AnyCase makes the path match in any letter case (its fixed part, before a
	// :param or *): the request path is rewritten to Path's spelling before routing.
	AnyCase bool
	// Handler answers the request.
	Handler echo.HandlerFunc
}

// Protocol is a protocol handler: the routes it serves.
type Protocol interface {
	Routes() []Route
}

// Observer receives one call per answered request, for metrics.
type Observer interface {
	ObserveHTTP(endpoint string, code int, provider string, d time.Duration)
}

// Options configure a Handler. The zero value logs nothing, observes nothing, trusts no
// proxy and limits no one.
type Options struct {
	// Log receives one Info line per request; nil discards them.
	Log *slog.Logger
	// RequestLog, when set, writes the request lines instead of Log, in Log's format
	// (see NewRequestLog).
	RequestLog *RequestLog
	// Observer, when set, is told about every request.
	Observer Observer
	// TrustedProxies are the peers whose X-Forwarded-For header names the client.
	// Requests from anyone else are attributed to their own address.
	TrustedProxies []netip.Prefix
	// RateLimit, when positive, is the sustained number of requests per second allowed
	// from one client address; RateBurst is the burst above it (at least 1; the
	// configuration fills in its default).
	// Requests over the limit get 429.
	RateLimit float64
	RateBurst int
}

// Handler serves every registered protocol and writes one log line per request.
type Handler struct {
	echo      *echo.Echo
	log       *slog.Logger
	requests  *RequestLog
	observer  Observer
	policy    atomic.Pointer[clientPolicy]
	ids       *requestIDs
	writers   sync.Pool // *loggingWriter
	endpoints *endpointTable
}

// New builds the echo router with the routes of every protocol.
func New(opts Options, protocols ...Protocol) *Handler {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	requests := opts.RequestLog
	if requests == nil {
		requests = NewRequestLog(nil, log.Handler()) // every line through slog
	}
	h := &Handler{echo: e, log: log, requests: requests, observer: opts.Observer, ids: newRequestIDs(), endpoints: &endpointTable{exact: map[string]string{}}}
	h.SetClientOptions(opts.TrustedProxies, opts.RateLimit, opts.RateBurst)
	// echo's own extractor follows ours, so handlers see the same address (its v4
	// default trusts X-Forwarded-For from anyone).
	e.IPExtractor = func(r *http.Request) string { return h.policy.Load().clientIP(r).String() }
	e.HTTPErrorHandler = h.plainTextError
	for _, p := range protocols {
		for _, r := range p.Routes() {
			for _, m := range r.Methods {
				e.Add(m, r.Path, r.Handler)
			}
			h.endpoints.add(r)
		}
	}
	h.writers.New = func() any { return new(loggingWriter) }
	return h
}

// clientPolicy is how the handler treats clients: whom it trusts to name them, and how
// many requests each may make.
type clientPolicy struct {
	clientIP    func(r *http.Request) netip.Addr
	trustedPeer func(r *http.Request) bool // the direct peer is a trusted proxy
	limiter     *rateLimiter               // nil: no limit
	rate        float64
	burst       int
}

// SetClientOptions replaces the trusted proxies and the rate limit (see Options), for a
// configuration reload. Clients keep their spent budget when the limit is unchanged.
func (h *Handler) SetClientOptions(trustedProxies []netip.Prefix, rate float64, burst int) {
	if rate > 0 && burst <= 0 {
		burst = 1
	}
	pol := &clientPolicy{
		clientIP:    clientIPFunc(trustedProxies),
		trustedPeer: trustedPeerFunc(trustedProxies),
		rate:        rate,
		burst:       burst,
	}
	if old := h.policy.Load(); old != nil && old.rate == rate && old.burst == burst {
		pol.limiter = old.limiter
	} else if rate > 0 {
		pol.limiter = newRateLimiter(rate, burst)
	}
	h.policy.Store(pol)
}

// ServeHTTP routes the request and logs it: method, path without the query, status,
// duration and the domain the handler resolved. Never the query or an address.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	lw := h.writers.Get().(*loggingWriter)
	lw.reset(w)
	var idHeader []string
	lw.requestID, idHeader = h.ids.next()
	w.Header()["X-Request-Id"] = idHeader
	defer h.finish(lw, r, start)
	pol := h.policy.Load()
	if !pol.trustedPeer(r) {
		// Only a trusted proxy may say how the client connected (echo's Scheme and
		// RealIP read these).
		for _, k := range forwardingHeaders {
			delete(r.Header, k)
		}
	}
	if len(r.TransferEncoding) > 0 {
		// RFC 9112 §6.1: a request with both Transfer-Encoding and Content-Length must
		// be answered and the connection closed (it may be an attempt at smuggling).
		// net/http drops the Content-Length before a handler sees it, so every request
		// with a Transfer-Encoding gets its connection closed; real clients send a
		// Content-Length and keep theirs.
		w.Header()["Connection"] = connectionClose
	}
	if pol.limiter != nil && !pol.limiter.allow(pol.clientIP(r), start) {
		lw.Header()["Retry-After"] = retryAfter
		http.Error(lw, "429 Too Many Requests", http.StatusTooManyRequests)
		return
	}
	h.endpoints.canonicalize(r.URL)
	h.echo.ServeHTTP(lw, r)
}

// forwardingHeaders are the headers in which a proxy describes the client's connection.
var forwardingHeaders = []string{"X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Proto", "X-Forwarded-Protocol", "X-Forwarded-Ssl", "X-Url-Scheme", "Forwarded"}

var (
	retryAfter      = []string{"1"}[:1:1]
	connectionClose = []string{"close"}[:1:1]
)

func (h *Handler) finish(lw *loggingWriter, r *http.Request, start time.Time) {
	if p := recover(); p != nil {
		if p == http.ErrAbortHandler {
			panic(p)
		}
		h.log.LogAttrs(r.Context(), slog.LevelError, "http handler panic",
			slog.String("path", h.logPath(r.URL)), slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
		if !lw.wroteHeader {
			http.Error(lw, "internal error", http.StatusInternalServerError)
		}
	}
	end := time.Now()
	d := end.Sub(start)
	if h.observer != nil {
		h.observer.ObserveHTTP(h.endpoints.label(r.URL.Path), lw.status, lw.provider, d)
	}
	if ctx := r.Context(); h.requests.enabled(ctx) {
		line := requestLine{
			end:       end,
			method:    r.Method,
			path:      h.logPath(r.URL),
			status:    lw.status,
			duration:  d,
			domain:    lw.domain,
			requestID: lw.requestID,
			reason:    lw.reason,
		}
		h.requests.write(ctx, &line)
	}
	lw.reset(nil)
	h.writers.Put(lw)
}

// maxLoggedPath bounds how much of a path is logged.
const maxLoggedPath = 200

// logPath returns the request path fit for the log: escaped and cut when long. A path
// that may hold an address, in any encoding (a raw "@", %40, %2540, ...), is logged
// only up to the fixed part of the route it matches, "/" elsewhere, then "{address}":
// an address split by "/" or encoded "/" leaves none of its parts behind.
func (h *Handler) logPath(u *url.URL) string {
	p := u.EscapedPath()
	if mayHoldAddress(p) {
		return h.endpoints.fixedPart(u.Path) + "{address}"
	}
	if len(p) > maxLoggedPath {
		p = p[:maxLoggedPath] + "..."
	}
	return p
}

// mayHoldAddress reports whether s, decoded any number of times, holds an "@". Text
// that stops decoding cleanly on the way counts as holding one.
func mayHoldAddress(s string) bool {
	for range 8 {
		if strings.IndexByte(s, '@') >= 0 {
			return true
		}
		if strings.IndexByte(s, '%') < 0 {
			return false
		}
		d, err := url.PathUnescape(s)
		if err != nil {
			return true
		}
		s = d
	}
	return true
}

// loggingWriter records the status and the resolved domain of one response.
type loggingWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	domain      string
	provider    string
	reason      string
	requestID   string
}

func (w *loggingWriter) reset(rw http.ResponseWriter) {
	*w = loggingWriter{ResponseWriter: rw, status: http.StatusOK}
}

func (w *loggingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status = code
		w.wroteHeader = code >= 200
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *loggingWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer (deadlines, flushing).
func (w *loggingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// plainTextError renders errors that reach echo as a short plain-text status line.
// Protocol handlers answer their own protocol errors; this covers unknown paths and
// methods. It never includes request data.
func (h *Handler) plainTextError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := http.StatusInternalServerError
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = he.Code
	}
	if code == http.StatusInternalServerError {
		h.log.LogAttrs(c.Request().Context(), slog.LevelError, "http handler error", slog.Any("err", err))
	}
	body := fmt.Sprintf("%d %s\n", code, http.StatusText(code))
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	_ = c.String(code, body)
}

// Timeouts and limits of the HTTP listeners.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 20 * time.Second
	WriteTimeout      = 20 * time.Second
	IdleTimeout       = 120 * time.Second
	MaxHeaderBytes    = 16 << 10
)

// NewServer returns an http.Server for h with the listener timeouts and header limit
// set, so slow or oversized clients are cut off.
func NewServer(h http.Handler, logger *slog.Logger) *http.Server {
	errLog := logger
	if errLog == nil {
		errLog = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          log.New(addressRedactor{errLog}, "", 0),
	}
}

// clientAddressRE matches the IPv4 and IPv6 addresses (with ports) that net/http puts
// into its error messages ("TLS handshake error from 192.0.2.1:1234: EOF").
var clientAddressRE = regexp.MustCompile(`(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?|\[[0-9A-Fa-f:.%a-z]+\](?::\d+)?`)

// addressRedactor passes net/http's error messages to slog at Debug level without the
// client addresses in them: addresses are never logged.
type addressRedactor struct{ log *slog.Logger }

func (a addressRedactor) Write(p []byte) (int, error) {
	msg := clientAddressRE.ReplaceAllString(strings.TrimSpace(string(p)), "{client}")
	a.log.Debug("http server", slog.String("err", msg))
	return len(p), nil
}

// Serve runs srv on ln until ctx is done, then shuts it down, letting requests in
// flight finish within grace.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
