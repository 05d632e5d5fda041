package autoconfig

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// discardWriter is a reusable ResponseWriter, so the benchmark measures the handler and
// router rather than a recorder.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

func (w *discardWriter) reset() {
	clear(w.h)
	w.status = 0
}

// BenchmarkServe compares a request for the QQ Mail document with a trivial echo route
// on the same router, and the full stack with the request line logged through slog and
// through httpserver.RequestLog.
func BenchmarkServe(b *testing.B) {
	cat, err := mailconf.Default()
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(cat)
	if err != nil {
		b.Fatal(err)
	}
	// The router alone, with the autoconfig routes and a trivial one beside them.
	e := echo.New()
	for _, r := range h.Routes() {
		for _, m := range r.Methods {
			e.Add(m, r.Path, r.Handler)
		}
	}
	trivial := []byte("ok")
	e.GET("/trivial", func(c echo.Context) error { return c.Blob(http.StatusOK, "text/plain", trivial) })
	text := slog.NewTextHandler(discard{}, nil)
	logged := httpserver.New(httpserver.Options{Log: slog.New(text)}, h)
	shortLog := httpserver.New(httpserver.Options{Log: slog.New(text), RequestLog: httpserver.NewRequestLog(discard{}, text)}, h)

	run := func(b *testing.B, handler http.Handler, target string, wantStatus int) {
		req := httptest.NewRequest("GET", target, nil)
		req.Host = "autoconfig.qq.com"
		w := &discardWriter{h: make(http.Header)}
		b.ReportAllocs()
		for b.Loop() {
			w.reset()
			handler.ServeHTTP(w, req)
		}
		if w.status != wantStatus {
			b.Fatalf("status %d", w.status)
		}
	}
	b.Run("trivial-echo-route", func(b *testing.B) { run(b, e, "/trivial", 200) })
	b.Run("autoconfig-host", func(b *testing.B) { run(b, e, "/mail/config-v1.1.xml", 200) })
	b.Run("autoconfig-emailaddress", func(b *testing.B) {
		run(b, e, "/mail/config-v1.1.xml?emailaddress=user%2Btag%40foxmail.com", 200)
	})
	b.Run("ispdb", func(b *testing.B) { run(b, e, "/v1.1/qq.com", 200) })
	b.Run("autoconfig-logged", func(b *testing.B) { run(b, logged, "/mail/config-v1.1.xml", 200) })
	b.Run("autoconfig-request-log", func(b *testing.B) { run(b, shortLog, "/mail/config-v1.1.xml", 200) })
	b.Run("unknown-404", func(b *testing.B) { run(b, e, "/v1.1/example.com", 404) })
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
