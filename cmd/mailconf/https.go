package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
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
	flags   serveFlags

	files     atomic.Pointer[certs.Files] // one of files and acme is set
	filesFrom [2]string                   // certificate and key paths of files; reloads are serialized
	acme      *certs.ACME
	obtainNow chan struct{}

	mu      sync.Mutex
	onReady func()
}

func newCertificates(f serveFlags, cat *mailconf.Catalog, log *slog.Logger, metrics *admin.Metrics) (*certificates, error) {
	c := &certificates{log: log, metrics: metrics, flags: f, obtainNow: make(chan struct{}, 1)}
	certFile, keyFile := c.filePaths(cat)
	switch {
	case certFile != "":
		files, err := certs.LoadFiles(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.files.Store(files)
		c.filesFrom = [2]string{certFile, keyFile}
		c.recordFile(files.Leaf())
	case cat.TLS.ACME != nil:
		a := cat.TLS.ACME
		opts := certs.ACMEOptions{CAFile: a.CAFile, StateDir: a.StateDir}
		if a.DirectoryURL != nil {
			opts.DirectoryURL = a.DirectoryURL.String()
		}
		if !a.Email.IsZero() {
			opts.Email = a.Email.String()
		}
		acme, err := certs.NewACME(opts, acmeNames(cat))
		if err != nil {
			return nil, err
		}
		c.acme = acme
	default:
		return nil, errors.New("-https needs -tls-cert and -tls-key, or tls.cert_file and tls.key_file or tls.acme in the configuration")
	}
	return c, nil
}

// filePaths returns the certificate and key files: the flags', else the configuration's.
func (c *certificates) filePaths(cat *mailconf.Catalog) (string, string) {
	if c.flags.tlsCert != "" || c.flags.tlsKey != "" {
		return c.flags.tlsCert, c.flags.tlsKey
	}
	return cat.TLS.CertFile, cat.TLS.KeyFile
}

// acmeNames are the host names clients ask for over HTTPS: autoconfig.<d> and
// autodiscover.<d> of every configured domain, mta-sts.<d> where the provider has an
// MTA-STS policy, plus the configured extra names.
func acmeNames(cat *mailconf.Catalog) []string {
	var names []string
	// The configured domains only: domains read from sources come and go by the
	// thousand, beyond what a CA issues (README, "Hosting many domains").
	for _, p := range cat.Providers {
		for _, d := range p.Domains {
			names = append(names, d.Autoconfig().String(), d.Autodiscover().String())
			if p.MTASTS != nil {
				names = append(names, d.MTASTS().String())
			}
		}
	}
	if cat.TLS.ACME != nil {
		for _, n := range cat.TLS.ACME.ExtraNames {
			names = append(names, n.String())
		}
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
	return &tls.Config{
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.files.Load().GetCertificate(hello)
		},
		MinVersion: tls.VersionTLS12,
	}
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
// keep the expiry metric right; autocert renews on its own). The listener is ready once
// the certificates are there.
func (c *certificates) run(ctx context.Context) {
	if c.acme == nil {
		c.ready()
		t := time.NewTicker(certFileCheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			files := c.files.Load()
			changed, err := files.Reload(false)
			switch {
			case err != nil:
				c.log.Error("certificate files changed but cannot be loaded; the previous certificate stays in use", slog.Any("err", err))
			case changed:
				c.recordFile(files.Leaf())
			}
		}
	}
	t := time.NewTicker(acmeRecheckInterval)
	defer t.Stop()
	for {
		err := c.acme.Obtain(ctx, func(name string, leaf *x509.Certificate) {
			c.metrics.CertificateExpiry(name, leaf.NotAfter)
		})
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			c.log.Error("ACME certificates", slog.Any("err", err))
		default:
			c.log.Info("ACME certificates ready", slog.Int("names", len(c.acme.Names())))
			c.ready()
		}
		select {
		case <-ctx.Done():
			return
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

// Prepare follows a configuration reload (SIGHUP): certificate files are read again
// (from new paths if the configuration names others), and ACME certificates are
// obtained for the new set of names. Switching between files and ACME, or changing the
// ACME account settings, takes a restart; the reload says so in the log.
func (c *certificates) Prepare(cat *mailconf.Catalog) (commit func(), err error) {
	if c.acme != nil {
		if cat.TLS.ACME == nil {
			c.log.Warn("tls: switching away from ACME takes a restart; ACME stays in use")
			return func() {}, nil
		}
		names := acmeNames(cat)
		return func() {
			c.acme.SetNames(names)
			select {
			case c.obtainNow <- struct{}{}:
			default:
			}
		}, nil
	}
	certFile, keyFile := c.filePaths(cat)
	if certFile == "" {
		c.log.Warn("tls: switching from certificate files to ACME takes a restart; the files stay in use")
		certFile, keyFile = c.filesFrom[0], c.filesFrom[1]
	}
	files, err := certs.LoadFiles(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return func() {
		c.files.Store(files)
		c.filesFrom = [2]string{certFile, keyFile}
		c.recordFile(files.Leaf())
	}, nil
}

func newTLSListener(ln net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(ln, cfg)
}

// profileSigner chooses the certificate that signs Apple profiles: the one configured
// for signing (profile.cert_file), else the HTTPS certificate (files, or under ACME that
// of the host asked), else none: profiles go out unsigned.
type profileSigner struct {
	own   atomic.Pointer[certs.Files] // profile.cert_file, when configured
	certs *certificates               // the HTTPS listener's, or nil
}

func newProfileSigner(cat *mailconf.Catalog, c *certificates) (*profileSigner, error) {
	s := &profileSigner{certs: c}
	commit, err := s.Prepare(cat)
	if err != nil {
		return nil, err
	}
	commit()
	return s, nil
}

// Prepare reads the signing certificate a configuration names, for a reload.
func (s *profileSigner) Prepare(cat *mailconf.Catalog) (func(), error) {
	var own *certs.Files
	if p := cat.Profile; p.CertFile != "" {
		f, err := certs.LoadFiles(p.CertFile, p.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("profile signing certificate: %w", err)
		}
		own = f
	}
	return func() { s.own.Store(own) }, nil
}

func (s *profileSigner) sign(host string) *tls.Certificate {
	if own := s.own.Load(); own != nil {
		c, _ := own.GetCertificate(nil)
		return c
	}
	if s.certs == nil {
		return nil
	}
	if s.certs.acme != nil {
		if !slices.Contains(s.certs.acme.Names(), host) {
			return nil
		}
		c, err := s.certs.acme.GetCertificate(&tls.ClientHelloInfo{ServerName: host})
		if err != nil {
			return nil
		}
		return c
	}
	c, _ := s.certs.files.Load().GetCertificate(nil)
	return c
}
