package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/admin"
	"github.com/mailconf/mailconf/certs"
)

// Intervals of the certificate upkeep.
var (
	certFileCheckInterval = 5 * time.Second
	acmeRecheckInterval   = 12 * time.Hour
)

// certificates wires the HTTPS listener to its certificate source: files named by flags
// or configuration, or ACME.
type certificates struct {
	log     *slog.Logger
	metrics *admin.Metrics

	mu        sync.Mutex
	files     *certs.Files // one of files and acme is set
	acme      *certs.ACME
	obtainNow chan struct{}
	onReady   func()
}

func newCertificates(f serveFlags, cat *mailconf.Catalog, log *slog.Logger, metrics *admin.Metrics) (*certificates, error) {
	c := &certificates{log: log, metrics: metrics, obtainNow: make(chan struct{}, 1)}
	certFile, keyFile := cat.TLS.CertFile, cat.TLS.KeyFile
	if f.tlsCert != "" || f.tlsKey != "" {
		certFile, keyFile = f.tlsCert, f.tlsKey
	}
	switch {
	case certFile != "" && keyFile != "":
		files, err := certs.LoadFiles(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.files = files
		c.recordFile(files.Leaf())
	case cat.TLS.ACME != nil && certFile == "" && keyFile == "":
		a := cat.TLS.ACME
		acme, err := certs.NewACME(certs.ACMEOptions{
			DirectoryURL: a.DirectoryURL, Email: a.Email, CAFile: a.CAFile, StateDir: a.StateDir,
		}, acmeNames(cat))
		if err != nil {
			return nil, err
		}
		c.acme = acme
	default:
		return nil, errors.New("-https needs -tls-cert and -tls-key, or tls.cert_file and tls.key_file or tls.acme in the configuration")
	}
	return c, nil
}

// acmeNames are the host names clients ask for over HTTPS: autoconfig.<d> and
// autodiscover.<d> of every configured domain, plus the configured extra names.
func acmeNames(cat *mailconf.Catalog) []string {
	var names []string
	for _, d := range cat.Domains() {
		names = append(names, "autoconfig."+d, "autodiscover."+d)
	}
	if cat.TLS.ACME != nil {
		names = append(names, cat.TLS.ACME.ExtraNames...)
	}
	return names
}

func (c *certificates) recordFile(leaf *x509.Certificate) {
	if leaf == nil {
		return
	}
	c.metrics.CertificateExpiry("file", leaf.NotAfter)
	c.log.Info("certificate loaded", slog.String("subject", leaf.Subject.CommonName),
		slog.Any("names", leaf.DNSNames), slog.Time("not_after", leaf.NotAfter))
}

// tlsConfig is the HTTPS listener's configuration.
func (c *certificates) tlsConfig() *tls.Config {
	if c.acme != nil {
		return c.acme.TLSConfig()
	}
	return &tls.Config{GetCertificate: c.files.GetCertificate, MinVersion: tls.VersionTLS12}
}

// httpHandler adds ACME HTTP-01 challenge answers in front of next on the plain listener.
func (c *certificates) httpHandler(next http.Handler) http.Handler {
	if c.acme != nil {
		return c.acme.HTTPHandler(next)
	}
	return next
}

// run keeps certificates current until ctx ends: it re-reads changed files, or obtains
// ACME certificates at start-up, after each configuration change and twice a day (to
// keep the expiry metric right; autocert renews on its own).
func (c *certificates) run(ctx context.Context) error {
	if c.files != nil {
		c.ready()
		c.files.Watch(ctx, certFileCheckInterval, c.recordFile, func(err error) {
			c.log.Error("certificate files changed but cannot be loaded; the previous certificate stays in use", slog.Any("err", err))
		})
		return nil
	}
	t := time.NewTicker(acmeRecheckInterval)
	defer t.Stop()
	for {
		err := c.acme.Obtain(ctx, func(name string, leaf *x509.Certificate) {
			c.metrics.CertificateExpiry(name, leaf.NotAfter)
		})
		if err != nil && ctx.Err() == nil {
			c.log.Error("ACME certificates", slog.Any("err", err))
		} else if err == nil {
			c.log.Info("ACME certificates ready", slog.Int("names", len(c.acme.Names())))
		}
		c.ready()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.obtainNow:
		}
	}
}

func (c *certificates) ready() {
	c.mu.Lock()
	f := c.onReady
	c.onReady = nil
	c.mu.Unlock()
	if f != nil {
		f()
	}
}

// Update follows a configuration reload (SIGHUP): certificate files are re-read, and
// ACME certificates are obtained for the new set of names.
func (c *certificates) Update(cat *mailconf.Catalog) error {
	if c.files != nil {
		changed, err := c.files.Reload(true)
		if err != nil {
			return err
		}
		if changed {
			c.recordFile(c.files.Leaf())
		}
		return nil
	}
	c.acme.SetNames(acmeNames(cat))
	select {
	case c.obtainNow <- struct{}{}:
	default:
	}
	return nil
}

func newTLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(ln, cfg)
}
