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
	"github.com/mailconf/mailconf/dnssrv"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/connlimit"
	"github.com/mailconf/mailconf/internal/logbuf"
	"github.com/mailconf/mailconf/mobileconfig"
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
	d, err := newDaemon(f, log)
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

	mu        sync.Mutex                     // serializes reloads
	preparers []preparer                     // in the order they switch
	limits    map[string]connlimit.Limits    // connection caps by listener name
	listeners map[string]*connlimit.Listener // the capped listeners opened

	http     *httpserver.Handler
	profiles *mobileconfig.Handler
	dns      *dnssrv.Server
	certs    *certificates // nil without -https
}

func newDaemon(f serveFlags, log *slog.Logger) (*daemon, error) {
	d := &daemon{flags: f, log: log, listeners: map[string]*connlimit.Listener{}}
	conditions := []string{"config"}
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
	ac, err := autoconfig.New(cat)
	if err != nil {
		return nil, err
	}
	ad, err := autodiscover.New(cat)
	if err != nil {
		return nil, err
	}
	pages, err := templates.New(cat, templates.Links{
		Autoconfig:       autoconfig.PathConfig,
		ISPDB:            strings.TrimSuffix(autoconfig.PathISPDB, ":domain"),
		AutodiscoverJSON: autodiscover.PathJSON,
		Profile:          mobileconfig.Path,
	})
	if err != nil {
		return nil, err
	}
	d.profiles = mobileconfig.New(cat, log)
	protocols := []httpserver.Protocol{ac, ad, pages, d.profiles}
	d.metrics = admin.NewMetrics(buildVersion(), httpserver.EndpointLabels(protocols...))
	d.preparers = []preparer{ac, ad, pages, d.profiles}
	if f.dns != "" {
		d.dns, err = dnssrv.New(cat, log)
		if err != nil {
			return nil, err
		}
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
	d.metrics.ConfigLoaded(cat.Source, len(cat.Providers), false)
	d.ready.Set("config", true)
	log.Info("configuration loaded", slog.String("source", cat.Source),
		slog.Int("providers", len(cat.Providers)), slog.Int("domains", len(cat.Domains())))
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

	// Reloads run beside this loop, one at a time: a reload that hangs (a configuration
	// file on a stuck mount) must not keep SIGTERM from stopping the server.
	reloads := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-reloads:
				_ = d.reload()
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
func (d *daemon) reload() error {
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
	// Prepare every response, zone and certificate first; switch only when all are ready.
	commits := make([]func(), 0, len(d.preparers))
	for _, p := range d.preparers {
		commit, err := p.Prepare(cat)
		if err != nil {
			d.metrics.ConfigFailed()
			d.log.Error("configuration refused; the previous one stays in use", slog.Any("err", err))
			return err
		}
		commits = append(commits, commit)
	}
	for _, commit := range commits {
		commit()
	}
	for _, w := range cat.Warnings {
		d.log.Warn("configuration", slog.String("problem", w.String()))
	}
	d.metrics.ConfigLoaded(cat.Source, len(cat.Providers), true)
	d.log.Info("configuration reloaded", slog.String("source", cat.Source),
		slog.Int("providers", len(cat.Providers)), slog.Int("domains", len(cat.Domains())))
	return nil
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
