package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/admin"
	"github.com/mailconf/mailconf/autoconfig"
	"github.com/mailconf/mailconf/autodiscover"
	"github.com/mailconf/mailconf/dav"
	"github.com/mailconf/mailconf/dnssrv"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/connlimit"
	"github.com/mailconf/mailconf/internal/logbuf"
	"github.com/mailconf/mailconf/internal/sources"
	"github.com/mailconf/mailconf/mobileconfig"
	"github.com/mailconf/mailconf/mtasts"
	"github.com/mailconf/mailconf/templates"
)

// shutdownGrace bounds how long requests in flight may take after SIGTERM.
const shutdownGrace = 10 * time.Second

// serveFlags are the command-line settings of `mailconf serve`.
type serveFlags struct {
	config    string
	http      string
	https     string
	tlsCert   string
	tlsKey    string
	dns       string
	admin     string
	logFormat string
	logLevel  string
}

// newServeFlags declares the flags of `mailconf serve`.
func newServeFlags(stderr io.Writer) (*flag.FlagSet, *serveFlags) {
	fs := newFlagSet("serve", "Serve mail client configuration. Without -config the built-in QQ Mail\nconfiguration (qq.com, foxmail.com) is served. SIGHUP reloads the configuration\n(and certificate files); SIGTERM stops after requests in flight finish.", stderr)
	f := &serveFlags{}
	fs.StringVar(&f.config, "config", "", "configuration `file` (YAML); empty serves the built-in QQ Mail configuration")
	fs.StringVar(&f.http, "http", ":8080", "plain HTTP listen `address` (autoconfig, Autodiscover, ACME HTTP-01); empty disables")
	fs.StringVar(&f.https, "https", "", "HTTPS listen `address`, e.g. :443; needs -tls-cert/-tls-key or tls in the configuration; empty disables")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate chain `file` for -https (overrides tls.cert_file)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "PEM private key `file` for -https (overrides tls.key_file)")
	fs.StringVar(&f.dns, "dns", ":5353", "DNS listen `address`, UDP and TCP; empty disables")
	fs.StringVar(&f.admin, "admin", "127.0.0.1:9100", "admin listen `address` for /metrics, /healthz and /readyz; empty disables")
	fs.StringVar(&f.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&f.logLevel, "log-level", "info", "minimum log `level`: debug, info, warn or error")
	return fs, f
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, fp := newServeFlags(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	f := *fp
	// Log lines are batched so a busy server does not make a write call per request;
	// they reach stderr within logbuf.DefaultInterval, and all of them before exit.
	logOut := logbuf.New(stderr, 0, 0)
	defer logOut.Close()
	log, err := newLogger(logOut, f.logFormat, f.logLevel)
	if err != nil {
		fs.Usage()
		return err
	}
	if f.http == "" && f.https == "" && f.dns == "" {
		return errors.New("nothing to serve: -http, -https and -dns are all empty")
	}
	// Request lines take a short path to the same output (httpserver.RequestLog).
	d, err := newDaemon(f, log, httpserver.NewRequestLog(logOut, log.Handler()))
	if err != nil {
		return err
	}
	return d.run(ctx)
}

// preparer is a component that serves from a catalog and can switch to a new one in
// two steps: Prepare builds everything the new catalog needs and may fail; commit
// switches and cannot fail. A reload prepares every component before committing any.
type preparer interface {
	Prepare(cat *mailconf.Catalog) (commit func(), err error)
}

// preparerFunc adapts a function to preparer.
type preparerFunc func(cat *mailconf.Catalog) (func(), error)

func (f preparerFunc) Prepare(cat *mailconf.Catalog) (func(), error) { return f(cat) }

// daemon is a running `mailconf serve`: the components built from the configuration
// and the listeners that serve them.
type daemon struct {
	flags   serveFlags
	log     *slog.Logger
	metrics *admin.Metrics
	ready   *admin.Readiness

	mu        sync.Mutex                     // serializes reloads and domain refreshes
	config    *mailconf.Catalog              // the configuration, without sourced domains
	sources   *sources.Manager               // the providers' domain sources
	preparers []preparer                     // in the order they switch
	limits    map[string]connlimit.Limits    // connection caps by listener name
	listeners map[string]*connlimit.Listener // the capped listeners opened

	http     *httpserver.Handler
	profiles *mobileconfig.Handler
	dns      *dnssrv.Server
	certs    *certificates // nil without -https
}

func newDaemon(f serveFlags, log *slog.Logger, requestLog *httpserver.RequestLog) (*daemon, error) {
	d := &daemon{flags: f, log: log, listeners: map[string]*connlimit.Listener{}, sources: &sources.Manager{}}
	conditions := []string{"config", "domains"}
	for name, addr := range map[string]string{"http": f.http, "https": f.https, "dns": f.dns} {
		if addr != "" {
			conditions = append(conditions, name)
		}
	}
	d.ready = admin.NewReadiness(conditions...)

	cat, err := loadCatalog(f.config)
	if err != nil {
		return nil, fmt.Errorf("load configuration:\n%w", err)
	}
	for _, w := range cat.Warnings {
		log.Warn("configuration", slog.String("problem", w.String()))
	}
	// Every domain source is read once before anything is served from the catalog; one
	// that fails leaves its provider with its configured domains, and the server not
	// ready, until it is read.
	d.config = cat
	if served, err := d.withSources(context.Background(), cat, true); err == nil {
		cat = served
	}
	// The components build from the catalog at once: nothing but it is shared.
	var (
		ac                    *autoconfig.Handler
		ad                    *autodiscover.Handler
		pages                 *templates.Handler
		acErr, adErr, pageErr error
		dnsErr                error
		wg                    sync.WaitGroup
	)
	wg.Go(func() { ac, acErr = autoconfig.New(cat) })
	wg.Go(func() { ad, adErr = autodiscover.New(cat) })
	wg.Go(func() {
		pages, pageErr = templates.New(cat, templates.Links{
			Autoconfig:       autoconfig.PathConfig,
			ISPDB:            strings.TrimSuffix(autoconfig.PathISPDB, ":domain"),
			AutodiscoverJSON: autodiscover.PathJSON,
			Profile:          mobileconfig.Path,
		})
	})
	if f.dns != "" {
		wg.Go(func() { d.dns, dnsErr = dnssrv.New(cat, log) })
	}
	wg.Wait()
	if err := errors.Join(acErr, adErr, pageErr, dnsErr); err != nil {
		return nil, err
	}
	d.profiles = mobileconfig.New(cat, log)
	davRedirects, policies := dav.New(cat), mtasts.New(cat)
	protocols := []httpserver.Protocol{ac, ad, pages, d.profiles, davRedirects, policies}
	d.metrics = admin.NewMetrics(buildVersion(), httpserver.EndpointLabels(protocols...))
	d.preparers = []preparer{ac, ad, pages, d.profiles, davRedirects, policies}
	if d.dns != nil {
		d.metrics.SetDNSCounts(d.dns.Stats().Each)
		d.metrics.SetDNSEvents(d.dns.Stats().Events)
		d.preparers = append(d.preparers, d.dns)
	}
	if f.https != "" {
		d.certs, err = newCertificates(f, cat, log, d.metrics)
		if err != nil {
			return nil, err
		}
		d.preparers = append(d.preparers, d.certs)
	}
	signer, err := newProfileSigner(cat, d.certs)
	if err != nil {
		return nil, err
	}
	d.profiles.SetSigner(signer.sign)
	d.preparers = append(d.preparers, signer)
	d.http = httpserver.New(httpserver.Options{
		Log:            log,
		RequestLog:     requestLog,
		Observer:       d.metrics,
		TrustedProxies: cat.HTTP.TrustedProxies,
		RateLimit:      cat.HTTP.RateLimit,
		RateBurst:      cat.HTTP.RateBurst,
	}, protocols...)
	d.limits = listenerLimits(cat)
	// Trusted proxies, the rate limit and the connection caps follow reloads too.
	d.preparers = append(d.preparers, preparerFunc(func(cat *mailconf.Catalog) (func(), error) {
		limits := listenerLimits(cat)
		return func() {
			d.http.SetClientOptions(cat.HTTP.TrustedProxies, cat.HTTP.RateLimit, cat.HTTP.RateBurst)
			d.limits = limits // d.mu is held by reload
			for name, l := range d.listeners {
				l.SetLimits(limits[name])
			}
			d.metrics.SetLimits(limitMetrics(cat))
		}, nil
	}))
	d.metrics.SetLimits(limitMetrics(cat))
	d.metrics.SetSourceCounts(d.sourceCounts)
	d.ready.SetDetail(d.sourceDetail)
	d.updateSourceReadiness()
	d.metrics.ConfigLoaded(cat.Source, len(cat.Providers), false)
	d.ready.Set("config", true)
	log.Info("configuration loaded", slog.String("source", cat.Source),
		slog.Int("providers", len(cat.Providers)), slog.Int("domains", cat.NumDomains()))
	return d, nil
}

// run starts every listener and serves until ctx ends, reloading on SIGHUP. Then it
// stops accepting and lets requests in flight finish within shutdownGrace.
func (d *daemon) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	serve := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(); err != nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}

	if d.flags.http != "" {
		ln, err := d.listen("http", d.flags.http)
		if err != nil {
			return err
		}
		var h http.Handler = d.http
		if d.certs != nil {
			h = d.certs.httpHandler(h) // ACME HTTP-01 challenges
		}
		srv := httpserver.NewServer(h, d.log)
		srv.ConnState = ln.ConnState
		d.listening("http", ln.Addr())
		serve("http", func() error { return httpserver.Serve(ctx, srv, ln, shutdownGrace) })
	}
	if d.flags.https != "" {
		ln, err := d.listen("https", d.flags.https)
		if err != nil {
			return err
		}
		srv := httpserver.NewServer(d.http, d.log)
		srv.TLSConfig = d.certs.tlsConfig()
		srv.ConnState = ln.ConnState // sees the *tls.Conn, which the listener unwraps
		d.log.Info("listening", slog.String("proto", "https"), slog.String("addr", ln.Addr().String()))
		// Ready once certificates are loaded or obtained.
		d.certs.onReady = func() { d.ready.Set("https", true) }
		serve("https", func() error { return httpserver.Serve(ctx, srv, newTLSListener(ln, srv.TLSConfig), shutdownGrace) })
		// Not waited for at shutdown: an ACME order in progress cannot be cancelled.
		go d.certs.run(ctx)
	}
	if d.dns != nil {
		tcp := d.dns.TCPConnections()
		tcp.OnAcceptError = d.acceptErrorLogger("dns-tcp")
		d.metrics.AddListener("dns-tcp", tcp)
		if err := d.dns.Start(d.flags.dns); err != nil {
			return fmt.Errorf("dns listener: %w", err)
		}
		d.log.Info("listening", slog.String("proto", "dns"), slog.String("addr", d.dns.Addr()), slog.Uint64("serial", uint64(d.dns.Serial())))
		d.ready.Set("dns", true)
		serve("dns", func() error {
			<-ctx.Done()
			sctx, c := context.WithTimeout(context.Background(), shutdownGrace)
			defer c()
			return d.dns.Shutdown(sctx)
		})
	}
	if d.flags.admin != "" {
		ln, err := d.listen("admin", d.flags.admin)
		if err != nil {
			return err
		}
		srv := httpserver.NewServer(admin.Handler(d.metrics, d.ready), d.log)
		srv.ConnState = ln.ConnState
		d.log.Info("listening", slog.String("proto", "admin"), slog.String("addr", ln.Addr().String()))
		serve("admin", func() error { return httpserver.Serve(ctx, srv, ln, shutdownGrace) })
	}

	go d.runSources(ctx)
	// Reloads run beside this loop, one at a time: a reload that hangs (a configuration
	// file on a stuck mount) must not keep SIGTERM from stopping the server.
	reloads := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-reloads:
				_ = d.reload(ctx)
			case <-ctx.Done():
				return
			}
		}
	}()
	for done := false; !done; {
		select {
		case <-hup:
			select {
			case reloads <- struct{}{}:
			default: // one is already waiting; it reads the file as it is then
			}
		case <-ctx.Done():
			done = true
		}
	}
	d.log.Info("stopping", slog.Duration("grace", shutdownGrace))
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	d.log.Info("stopped")
	return errors.Join(errs...)
}

// listen opens a TCP listener whose connections are capped (see listenerLimits).
func (d *daemon) listen(name, addr string) (*connlimit.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cl := connlimit.New(ln, d.limits[name])
	cl.OnAcceptError = d.acceptErrorLogger(name)
	d.listeners[name] = cl
	d.metrics.AddListener(name, cl)
	return cl, nil
}

// acceptErrorLogger returns a function that logs accept errors at Warn, at most one line
// every acceptErrorLogInterval, with how many were left out.
func (d *daemon) acceptErrorLogger(listener string) func(error) {
	var mu sync.Mutex
	var last time.Time
	var skipped int
	return func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= acceptErrorLogInterval {
			d.log.Warn("cannot accept connections", slog.String("listener", listener), slog.Any("err", err), slog.Int("not_logged", skipped))
			last, skipped = now, 0
			return
		}
		skipped++
	}
}

// acceptErrorLogInterval spaces out the log lines of accept errors, which come in
// floods (one per attempt, when file descriptors run out).
const acceptErrorLogInterval = 10 * time.Second

// listenerLimits are the connection caps of every listener a catalog asks for.
func listenerLimits(cat *mailconf.Catalog) map[string]connlimit.Limits {
	proxies := cat.HTTP.TrustedProxies
	trusted := func(a netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	web := connlimit.Limits{Total: cat.HTTP.MaxConnections, PerClient: cat.HTTP.MaxConnectionsPerClient, Exempt: trusted}
	return map[string]connlimit.Limits{
		"http":  web,
		"https": web,
		"admin": {Total: cat.HTTP.AdminMaxConnections, PerClient: max(1, cat.HTTP.AdminMaxConnections/4)},
	}
}

// limitMetrics are the limits in force, by the configuration key that sets them or the
// name of the built-in limit, for /metrics.
func limitMetrics(cat *mailconf.Catalog) map[string]float64 {
	return map[string]float64{
		"http.rate_limit":                     cat.HTTP.RateLimit,
		"http.rate_burst":                     float64(cat.HTTP.RateBurst),
		"http.max_connections":                float64(cat.HTTP.MaxConnections),
		"http.max_connections_per_client":     float64(cat.HTTP.MaxConnectionsPerClient),
		"http.admin_max_connections":          float64(cat.HTTP.AdminMaxConnections),
		"http.max_header_bytes":               httpserver.MaxHeaderBytes,
		"http.read_header_timeout_seconds":    httpserver.ReadHeaderTimeout.Seconds(),
		"http.idle_timeout_seconds":           httpserver.IdleTimeout.Seconds(),
		"autodiscover.max_body_bytes":         autodiscover.MaxBodySize,
		"dns.tcp_max_connections":             float64(cat.DNS.TCPMaxConnections),
		"dns.tcp_max_connections_per_client":  float64(cat.DNS.TCPMaxConnectionsPerClient),
		"dns.rate_limit.responses_per_second": float64(*cat.DNS.RateLimit.ResponsesPerSecond),
		"dns.rate_limit.slip":                 float64(*cat.DNS.RateLimit.Slip),
		"dns.rate_limit.ipv4_prefix_length":   float64(cat.DNS.RateLimit.IPv4PrefixLength),
		"dns.rate_limit.ipv6_prefix_length":   float64(cat.DNS.RateLimit.IPv6PrefixLength),
		"config.max_bytes":                    mailconf.MaxConfigSize,
	}
}

func (d *daemon) listening(name string, addr net.Addr) {
	d.log.Info("listening", slog.String("proto", name), slog.String("addr", addr.String()))
	d.ready.Set(name, true)
}

// reload re-reads the configuration, prepares every response and zone from it, and only
// then switches all components to it. A configuration with problems is refused whole:
// the old one keeps serving, and each problem is logged with file and line.
func (d *daemon) reload(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cat, err := loadCatalog(d.flags.config)
	if err != nil {
		// Whatever the refused file made the loader allocate goes back to the system.
		debug.FreeOSMemory()
		d.metrics.ConfigFailed()
		var pl *mailconf.ProblemList
		if errors.As(err, &pl) {
			for _, p := range pl.Problems {
				d.log.Error("configuration refused; the previous one stays in use", slog.String("problem", p.String()))
			}
		} else {
			d.log.Error("configuration refused; the previous one stays in use", slog.Any("err", err))
		}
		return err
	}
	// SIGHUP reads the domain sources again too.
	served, err := d.withSources(ctx, cat, true)
	if err != nil {
		d.metrics.ConfigFailed()
		return err
	}
	if err := d.apply(served); err != nil {
		d.metrics.ConfigFailed()
		d.log.Error("configuration refused; the previous one stays in use", slog.Any("err", err))
		return err
	}
	d.config = cat
	for _, w := range cat.Warnings {
		d.log.Warn("configuration", slog.String("problem", w.String()))
	}
	d.metrics.ConfigLoaded(cat.Source, len(cat.Providers), true)
	d.log.Info("configuration reloaded", slog.String("source", cat.Source),
		slog.Int("providers", len(cat.Providers)), slog.Int("domains", served.NumDomains()))
	return nil
}

// withSources reads cat's domain sources (those due, or all with force) and returns
// the catalog to serve: cat with every source's newest good list. A domain two
// providers claim refuses the change: the error names both. d.mu is held, or the
// daemon is starting.
func (d *daemon) withSources(ctx context.Context, cat *mailconf.Catalog, force bool) (*mailconf.Catalog, error) {
	lists, _ := d.sources.Refresh(ctx, cat, time.Now(), force)
	d.logSourceErrors()
	served, err := cat.WithSourcedDomains(lists)
	if err != nil {
		d.log.Error("domain lists refused; the previous ones stay in use", slog.Any("err", err))
		return nil, err
	}
	return served, nil
}

// refreshDomains reads the domain sources that are due and, when a list changed,
// switches every component to the new domains, as a reload does.
func (d *daemon) refreshDomains(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	lists, changed := d.sources.Refresh(ctx, d.config, time.Now(), false)
	d.logSourceErrors()
	d.updateSourceReadiness()
	if !changed {
		return
	}
	served, err := d.config.WithSourcedDomains(lists)
	if err != nil {
		d.log.Error("domain lists refused; the previous ones stay in use", slog.Any("err", err))
		return
	}
	if err := d.apply(served); err != nil {
		d.log.Error("domain lists refused; the previous ones stay in use", slog.Any("err", err))
		return
	}
	d.log.Info("domains updated", slog.Int("domains", served.NumDomains()))
}

// apply prepares every response, zone and certificate for cat, then switches every
// component to it; nothing switches unless all are ready. d.mu is held.
func (d *daemon) apply(cat *mailconf.Catalog) error {
	commits, err := prepareAll(d.preparers, cat)
	if err != nil {
		return err
	}
	for _, commit := range commits {
		commit()
	}
	d.updateSourceReadiness()
	return nil
}

// prepareAll prepares every component for cat at once (they share nothing but the
// catalog, which is immutable) and returns their commits in order, or the first error.
func prepareAll(ps []preparer, cat *mailconf.Catalog) ([]func(), error) {
	commits := make([]func(), len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { commits[i], errs[i] = p.Prepare(cat) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return commits, nil
}

// runSources reads the domain sources whenever one is due, until ctx ends.
func (d *daemon) runSources(ctx context.Context) {
	for {
		wait := time.Hour
		if next := d.sources.NextDue(); !next.IsZero() {
			wait = max(time.Until(next), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		d.refreshDomains(ctx)
	}
}

// logSourceErrors logs the sources whose last read failed.
func (d *daemon) logSourceErrors() {
	for _, s := range d.sources.Statuses() {
		if s.Err != nil {
			d.log.Error("domain source failed; its last good list stays in use", slog.String("provider", s.Provider.String()),
				slog.String("source", s.Source), slog.Any("err", s.Err), slog.Int("domains", s.Domains))
		}
	}
}

// updateSourceReadiness is ready once every source has been read whole.
func (d *daemon) updateSourceReadiness() {
	d.ready.Set("domains", len(d.sources.Pending()) == 0)
}

// sourceDetail is the /readyz detail of the sources that fail or were never read.
func (d *daemon) sourceDetail() []string {
	var out []string
	for _, s := range d.sources.Statuses() {
		switch {
		case !s.Loaded:
			out = append(out, fmt.Sprintf("domains: %s: %s: not read yet: %v", s.Provider, s.Source, s.Err))
		case s.Err != nil:
			out = append(out, fmt.Sprintf("domains: %s: %s: failing, serving the %d domains read at %s: %v", s.Provider, s.Source, s.Domains, s.LastOK.UTC().Format(time.RFC3339), s.Err))
		}
	}
	return out
}

// sourceCounts reports every source to /metrics.
func (d *daemon) sourceCounts(f func(provider, source string, domains int, errors uint64, lastOK time.Time)) {
	for _, s := range d.sources.Statuses() {
		f(s.Provider.String(), s.Source, s.Domains, s.Errors, s.LastOK)
	}
}

// newLogger returns a slog logger writing to w in the given format at the given level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
