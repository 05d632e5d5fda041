package admin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestReadiness(t *testing.T) {
	m := NewMetrics("test", []string{"autoconfig", "other"})
	r := NewReadiness("config", "http")
	h := Handler(m, r)
	if code, body := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "not ready") {
		t.Fatalf("before: %d %q", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	r.Set("config", true)
	r.Set("http", true)
	if code, _ := get(t, h, "/readyz"); code != 200 {
		t.Fatalf("after: %d", code)
	}
	r.Set("http", false)
	if code, body := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "http") {
		t.Fatalf("listener down: %d %q", code, body)
	}
}

func TestMetricsExposition(t *testing.T) {
	m := NewMetrics("v1.2.3", []string{"autoconfig", "other"})
	m.ObserveHTTP("autoconfig", 200, "qq.com", time.Millisecond)
	m.ObserveHTTP("autoconfig", 200, "qq.com", time.Millisecond)
	m.ObserveHTTP("other", 404, "", time.Microsecond)
	m.ConfigLoaded("builtin.yaml", 1, false)
	m.ConfigLoaded("builtin.yaml", 1, true)
	m.ConfigFailed()
	m.CertificateExpiry("autoconfig.qq.com", time.Unix(2000000000, 0))
	m.SetDNSCounts(func(f func(qtype, rcode, transport string, n uint64)) {
		f("SRV", "NOERROR", "udp", 7)
	})
	m.SetDNSEvents(func(f func(kind, result string, n uint64)) {
		f("transfer", "ok", 2)
		f("notify", "timeout", 3)
		f("rate_limit", "slipped", 4)
		f("unknown", "x", 5) // not a family: left out
	})
	code, body := get(t, Handler(m, NewReadiness()), "/metrics")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`mailconf_http_requests_total{code="200",endpoint="autoconfig",provider="qq.com"} 2`,
		`mailconf_http_requests_total{code="404",endpoint="other",provider=""} 1`,
		`mailconf_http_request_duration_seconds_count{endpoint="autoconfig"} 2`,
		`mailconf_dns_queries_total{qtype="SRV",rcode="NOERROR",transport="udp"} 7`,
		`mailconf_dns_transfers_total{result="ok"} 2`,
		`mailconf_dns_notify_total{result="timeout"} 3`,
		`mailconf_dns_rate_limited_total{action="slipped"} 4`,
		`mailconf_config_reloads_total{result="success"} 1`,
		`mailconf_config_reloads_total{result="failure"} 1`,
		`mailconf_config_providers{source="builtin.yaml"} 1`,
		`mailconf_tls_certificate_expiry_timestamp_seconds{name="autoconfig.qq.com"} 2e+09`,
		`mailconf_build_info{goversion="go`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if strings.Contains(body, `"x"`) {
		t.Error("an unknown event kind was exported")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}
