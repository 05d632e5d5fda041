package autodiscover

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// rewindBody is a request body that a benchmark rewinds instead of reallocating.
type rewindBody struct{ *bytes.Reader }

func (rewindBody) Close() error { return nil }

// discardWriter is a reusable ResponseWriter that keeps only the status and size.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header         { return w.header }
func (w *discardWriter) WriteHeader(status int)      { w.status = status }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// benchmarkRequest serves one request again and again through the HTTP stack (path
// folding, routing, request log and observer included).
func benchmarkRequest(b *testing.B, method, target string, body []byte, wantStatus int, wantCode string) {
	h := newTestHandler(b, qqCatalog(b))
	e := newStack(h, nil)
	rb := rewindBody{bytes.NewReader(body)}
	req := httptest.NewRequest(method, target, nil)
	req.Body, req.ContentLength = rb, int64(len(body))
	path := req.URL.Path
	w := &discardWriter{header: http.Header{}}
	serve := func() {
		rb.Reset(body)
		req.URL.Path = path
		clear(w.header)
		w.status, w.n = 0, 0
		e.ServeHTTP(w, req)
	}

	// Check the answer once with a recorder, then measure.
	rec := httptest.NewRecorder()
	rb.Reset(body)
	e.ServeHTTP(rec, req)
	if rec.Code != wantStatus {
		b.Fatalf("status %d, want %d", rec.Code, wantStatus)
	}
	if wantCode != "-" {
		if code := errorOf(b, rec.Body.Bytes()); code != wantCode {
			b.Fatalf("error %q, want %q", code, wantCode)
		}
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
	if w.status != wantStatus || w.n == 0 {
		b.Fatalf("status %d, %d bytes", w.status, w.n)
	}
}

// BenchmarkPOX is the hot path: an Outlook request for a known address.
func BenchmarkPOX(b *testing.B) {
	benchmarkRequest(b, "POST", PathXML, []byte(autodiscoverRequest("user@qq.com")), 200, "")
}

// BenchmarkPOXMixedCase adds the path rewrite.
func BenchmarkPOXMixedCase(b *testing.B) {
	benchmarkRequest(b, "POST", "/Autodiscover/Autodiscover.xml", []byte(thunderbirdRequest("user@qq.com")), 200, "")
}

// BenchmarkPOXUnknownDomain answers the 500 document.
func BenchmarkPOXUnknownDomain(b *testing.B) {
	benchmarkRequest(b, "POST", PathXML, []byte(autodiscoverRequest("user@example.com")), 200, "500")
}

// BenchmarkPOXMalformed answers the 600 document for a body that fails to parse.
func BenchmarkPOXMalformed(b *testing.B) {
	benchmarkRequest(b, "POST", PathXML, []byte("<Autodiscover><Request><EMailAddress>user@qq.com"), 200, "600")
}

// BenchmarkJSON answers the V2 AutodiscoverV1 query.
func BenchmarkJSON(b *testing.B) {
	benchmarkRequest(b, "GET", PathJSON+"/v1.0/user@qq.com?Protocol=Autodiscoverv1", nil, 200, "-")
}
