// Package admin serves the operator endpoints: Prometheus metrics, liveness and
// readiness.
package admin

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mailconf/mailconf/internal/connlimit"
)

// Metrics holds every series mailconf exports. Labels are bounded: endpoint names are a
// fixed set, providers are configured provider ids, never hosts or addresses.
type Metrics struct {
	registry *prometheus.Registry

	httpRequests *prometheus.CounterVec   // endpoint, code, provider
	httpDuration *prometheus.HistogramVec // endpoint
	dnsQueries   *dnsCollector
	reloads      *prometheus.CounterVec // result
	configInfo   *prometheus.GaugeVec   // source
	lastReload   prometheus.Gauge
	certExpiry   *prometheus.GaugeVec // name
	buildInfo    *prometheus.GaugeVec
	limits       *prometheus.GaugeVec // name
	conns        *connCollector
	sources      *sourceCollector

	durs map[string]prometheus.Observer // endpoint -> histogram, resolved once; read-only
	// counters holds the request counters resolved so far (httpKey -> prometheus.Counter):
	// WithLabelValues checks and hashes its three values on every call.
	counters sync.Map
}

// NewMetrics registers every series, plus the Go runtime and process collectors, in a
// registry of its own. endpoints are the endpoint labels ObserveHTTP is called with
// (httpserver.EndpointLabels); their series exist from the start.
func NewMetrics(version string, endpoints []string) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailconf_http_requests_total",
			Help: "HTTP requests answered, by endpoint, status code and provider id (empty when no provider matched).",
		}, []string{"endpoint", "code", "provider"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mailconf_http_request_duration_seconds",
			Help:    "Time to answer HTTP requests, by endpoint.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25, 1, 5},
		}, []string{"endpoint"}),
		dnsQueries: &dnsCollector{desc: prometheus.NewDesc("mailconf_dns_queries_total",
			"DNS queries answered, by query type, response code and transport.",
			[]string{"qtype", "rcode", "transport"}, nil),
			events: map[string]*prometheus.Desc{
				"transfer": prometheus.NewDesc("mailconf_dns_transfers_total",
					"Zone transfer requests (AXFR, IXFR), by result: ok, refused (not allowed, not a zone, AXFR over UDP), notauth (unknown or wrong TSIG key).",
					[]string{"result"}, nil),
				"notify": prometheus.NewDesc("mailconf_dns_notify_total",
					"NOTIFY messages sent to secondaries, by result: ok, refused, notauth, error, timeout (sent again).",
					[]string{"result"}, nil),
				"rate_limit": prometheus.NewDesc("mailconf_dns_rate_limited_total",
					"UDP answers over a client network's rate limit: limited, of which slipped (sent truncated) and dropped.",
					[]string{"action"}, nil),
			}},
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailconf_config_reloads_total",
			Help: "Configuration loads after start-up, by result (success or failure).",
		}, []string{"result"}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailconf_config_providers",
			Help: "Providers in the configuration being served.",
		}, []string{"source"}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailconf_config_last_load_timestamp_seconds",
			Help: "When the configuration being served was loaded (Unix time).",
		}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailconf_tls_certificate_expiry_timestamp_seconds",
			Help: "When each served TLS certificate expires (Unix time), by certificate name.",
		}, []string{"name"}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailconf_build_info",
			Help: "Always 1; labels say which build is running.",
		}, []string{"version", "goversion"}),
		limits: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailconf_limit",
			Help: "Limits in force, by name: the configuration key, or the built-in limit's name.",
		}, []string{"name"}),
		conns: newConnCollector(),
		sources: &sourceCollector{
			domains: prometheus.NewDesc("mailconf_domain_source_domains",
				"Domains in each source's last good list, by provider and source.", []string{"provider", "source"}, nil),
			errors: prometheus.NewDesc("mailconf_domain_source_errors_total",
				"Failed reads of each domain source, by provider and source.", []string{"provider", "source"}, nil),
			lastOK: prometheus.NewDesc("mailconf_domain_source_last_success_timestamp_seconds",
				"When each domain source was last read whole (Unix time; 0: never), by provider and source.", []string{"provider", "source"}, nil),
		},
		durs: map[string]prometheus.Observer{},
	}
	goVersion := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		goVersion = info.GoVersion
	}
	for _, e := range endpoints {
		m.durs[e] = m.httpDuration.WithLabelValues(e)
	}
	m.buildInfo.WithLabelValues(version, goVersion).Set(1)
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	r.MustRegister(m.httpRequests, m.httpDuration, m.dnsQueries, m.reloads, m.configInfo,
		m.lastReload, m.certExpiry, m.buildInfo, m.limits, m.conns, m.sources,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

// ObserveHTTP counts one HTTP request.
func (m *Metrics) ObserveHTTP(endpoint string, code int, provider string, d time.Duration) {
	key := httpKey{endpoint, code, provider}
	c, ok := m.counters.Load(key)
	if !ok {
		c, _ = m.counters.LoadOrStore(key, m.httpRequests.WithLabelValues(endpoint, statusCode(code), provider))
	}
	c.(prometheus.Counter).Inc()
	m.durationObserver(endpoint).Observe(d.Seconds())
}

// httpKey is the labels of one request counter.
type httpKey struct {
	endpoint string
	code     int
	provider string
}

func (m *Metrics) durationObserver(endpoint string) prometheus.Observer {
	if o, ok := m.durs[endpoint]; ok {
		return o
	}
	return m.httpDuration.WithLabelValues(endpoint)
}

// statusCode returns the decimal code without allocating for the common ones.
func statusCode(code int) string {
	switch code {
	case 200:
		return "200"
	case 302:
		return "302"
	case 304:
		return "304"
	case 400:
		return "400"
	case 404:
		return "404"
	case 405:
		return "405"
	case 429:
		return "429"
	case 500:
		return "500"
	}
	return strconv.Itoa(code)
}

// DNSCounts reports DNS answer counts: it calls f for each label set with its total.
// The DNS server keeps the counts itself (cheaply, on its fast path); they are read
// when /metrics is scraped.
type DNSCounts func(f func(qtype, rcode, transport string, n uint64))

// SetDNSCounts sets where the DNS query counts come from.
func (m *Metrics) SetDNSCounts(src DNSCounts) {
	m.dnsQueries.mu.Lock()
	defer m.dnsQueries.mu.Unlock()
	m.dnsQueries.src = src
}

// DNSEvents reports the DNS server's event counts: it calls f for each kind
// ("transfer", "notify", "rate_limit") and result with its total.
type DNSEvents func(f func(kind, result string, n uint64))

// SetDNSEvents sets where the DNS event counts come from.
func (m *Metrics) SetDNSEvents(src DNSEvents) {
	m.dnsQueries.mu.Lock()
	defer m.dnsQueries.mu.Unlock()
	m.dnsQueries.eventSrc = src
}

// dnsCollector exports the DNS server's own counters as counter families.
type dnsCollector struct {
	desc   *prometheus.Desc
	events map[string]*prometheus.Desc // by event kind
	mu     sync.Mutex
	src    DNSCounts
	// eventSrc reports transfers, NOTIFY messages and rate limiting.
	eventSrc DNSEvents
}

func (c *dnsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	for _, d := range c.events {
		ch <- d
	}
}

func (c *dnsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src, eventSrc := c.src, c.eventSrc
	c.mu.Unlock()
	if src != nil {
		src(func(qtype, rcode, transport string, n uint64) {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n), qtype, rcode, transport)
		})
	}
	if eventSrc != nil {
		eventSrc(func(kind, result string, n uint64) {
			if d, ok := c.events[kind]; ok {
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), result)
			}
		})
	}
}

// ConfigLoaded records a configuration taking effect: at start-up (reload false) or
// after a reload.
func (m *Metrics) ConfigLoaded(source string, providers int, reload bool) {
	m.configInfo.Reset()
	m.configInfo.WithLabelValues(source).Set(float64(providers))
	m.lastReload.SetToCurrentTime()
	if reload {
		m.reloads.WithLabelValues("success").Inc()
	}
}

// ConfigFailed counts a configuration reload that was refused.
func (m *Metrics) ConfigFailed() {
	m.reloads.WithLabelValues("failure").Inc()
}

// CertificateExpiry records when the certificate served for name expires.
func (m *Metrics) CertificateExpiry(name string, notAfter time.Time) {
	m.certExpiry.WithLabelValues(name).Set(float64(notAfter.Unix()))
}

// SetLimits records the limits in force, by name; a reload replaces them all.
func (m *Metrics) SetLimits(limits map[string]float64) {
	m.limits.Reset()
	for name, v := range limits {
		m.limits.WithLabelValues(name).Set(v)
	}
}

// SourceCounts reports the domain sources: it calls f for each.
type SourceCounts func(f func(provider, source string, domains int, errors uint64, lastOK time.Time))

// SetSourceCounts sets where the domain sources' counts come from.
func (m *Metrics) SetSourceCounts(src SourceCounts) {
	m.sources.mu.Lock()
	defer m.sources.mu.Unlock()
	m.sources.src = src
}

// sourceCollector exports the domain sources' counts when /metrics is scraped.
type sourceCollector struct {
	domains, errors, lastOK *prometheus.Desc
	mu                      sync.Mutex
	src                     SourceCounts
}

func (c *sourceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.domains
	ch <- c.errors
	ch <- c.lastOK
}

func (c *sourceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	src := c.src
	c.mu.Unlock()
	if src == nil {
		return
	}
	src(func(provider, source string, domains int, errors uint64, lastOK time.Time) {
		ch <- prometheus.MustNewConstMetric(c.domains, prometheus.GaugeValue, float64(domains), provider, source)
		ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(errors), provider, source)
		ts := 0.0
		if !lastOK.IsZero() {
			ts = float64(lastOK.Unix())
		}
		ch <- prometheus.MustNewConstMetric(c.lastOK, prometheus.GaugeValue, ts, provider, source)
	})
}

// ConnLimited is a listener whose connections are capped and counted
// (*connlimit.Listener).
type ConnLimited interface {
	Stats() connlimit.Stats
	Limits() connlimit.Limits
}

// AddListener exports a listener's connection counts and caps under its name (http,
// https, admin, dns-tcp).
func (m *Metrics) AddListener(name string, l ConnLimited) {
	m.conns.mu.Lock()
	defer m.conns.mu.Unlock()
	m.conns.listeners = append(m.conns.listeners, namedListener{name, l})
}

type namedListener struct {
	name string
	l    ConnLimited
}

// connCollector reads the listeners' counts when /metrics is scraped.
type connCollector struct {
	open, limit, refused, shed, acceptErrors *prometheus.Desc

	mu        sync.Mutex
	listeners []namedListener
}

func newConnCollector() *connCollector {
	return &connCollector{
		open: prometheus.NewDesc("mailconf_connections",
			"Connections held now, by listener.", []string{"listener"}, nil),
		limit: prometheus.NewDesc("mailconf_connections_limit",
			"Connection caps in force, by listener and scope (total, or per_client address).", []string{"listener", "scope"}, nil),
		refused: prometheus.NewDesc("mailconf_connections_refused_total",
			"Connections closed on arrival because a cap was reached and no idle connection could make room, by listener and cap (total, per_client).", []string{"listener", "reason"}, nil),
		shed: prometheus.NewDesc("mailconf_connections_shed_total",
			"Idle connections closed to make room for new ones, by listener.", []string{"listener"}, nil),
		acceptErrors: prometheus.NewDesc("mailconf_accept_errors_total",
			"Errors accepting connections (such as too many open files), by listener.", []string{"listener"}, nil),
	}
}

func (c *connCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.limit, c.refused, c.shed, c.acceptErrors} {
		ch <- d
	}
}

func (c *connCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	ls := slices.Clone(c.listeners)
	c.mu.Unlock()
	for _, nl := range ls {
		s, lim := nl.l.Stats(), nl.l.Limits()
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(s.Open), nl.name)
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(lim.Total), nl.name, "total")
		ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(lim.PerClient), nl.name, "per_client")
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.RefusedTotal), nl.name, "total")
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(s.RefusedClient), nl.name, "per_client")
		ch <- prometheus.MustNewConstMetric(c.shed, prometheus.CounterValue, float64(s.Shed), nl.name)
		ch <- prometheus.MustNewConstMetric(c.acceptErrors, prometheus.CounterValue, float64(s.AcceptErrors), nl.name)
	}
}

// Readiness tracks whether the server is ready to take traffic: configuration loaded
// and every listener up.
type Readiness struct {
	mu      sync.Mutex
	pending map[string]bool // what is not ready yet
	detail  func() []string // problems to show whether ready or not
}

// SetDetail sets a function whose lines /readyz shows under its verdict: problems that
// do not (or not yet) make the server unready, such as a failing domain source.
func (r *Readiness) SetDetail(f func() []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detail = f
}

// Detail returns the detail lines.
func (r *Readiness) Detail() []string {
	r.mu.Lock()
	f := r.detail
	r.mu.Unlock()
	if f == nil {
		return nil
	}
	return f()
}

// NewReadiness returns a Readiness that waits for each named condition.
func NewReadiness(conditions ...string) *Readiness {
	r := &Readiness{pending: map[string]bool{}}
	for _, c := range conditions {
		r.pending[c] = true
	}
	return r
}

// Set marks a condition ready or not.
func (r *Readiness) Set(condition string, ready bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ready {
		delete(r.pending, condition)
	} else {
		r.pending[condition] = true
	}
}

// Pending returns the conditions not yet met.
func (r *Readiness) Pending() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for c := range r.pending {
		out = append(out, c)
	}
	return out
}

// Handler returns the admin endpoints: /metrics, /healthz and /readyz.
func Handler(m *Metrics, ready *Readiness) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if p := ready.Pending(); len(p) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", p)
		} else {
			fmt.Fprintln(w, "ready")
		}
		for _, line := range ready.Detail() {
			fmt.Fprintln(w, line)
		}
	})
	return mux
}
