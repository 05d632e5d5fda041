package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEOptions configure an ACME certificate source.
type ACMEOptions struct {
	// DirectoryURL is the CA's directory; empty means Let's Encrypt production.
	DirectoryURL string
	// Email is the account contact; optional.
	Email string
	// CAFile, when set, holds the PEM roots trusted for the ACME server's own HTTPS.
	CAFile string
	// StateDir keeps the account key and certificates across restarts.
	StateDir string
}

// ACME obtains and renews certificates for a set of names from an ACME CA, answering
// both HTTP-01 (through HTTPHandler on the plain listener) and TLS-ALPN-01 (through the
// TLS configuration) challenges. autocert renews a certificate 30 days before expiry.
type ACME struct {
	manager *autocert.Manager
	names   atomic.Pointer[[]string] // allowed names, sorted
}

// NewACME sets up the source for names. It contacts the CA only in Obtain or when a
// client asks for a name whose certificate is not cached.
func NewACME(opts ACMEOptions, names []string) (*ACME, error) {
	if opts.StateDir == "" {
		return nil, errors.New("certs: ACME needs a state directory")
	}
	if err := os.MkdirAll(opts.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	client := &acme.Client{DirectoryURL: opts.DirectoryURL}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("certs: ACME CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("certs: ACME CA file %s holds no PEM certificate", opts.CAFile)
		}
		client.HTTPClient = &http.Client{
			Timeout:   time.Minute,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: http.ProxyFromEnvironment},
		}
	}
	a := &ACME{}
	a.SetNames(names)
	a.manager = &autocert.Manager{
		Prompt:     autocert.AcceptTOS, // the configuration's accept_tos is checked when it loads
		Cache:      autocert.DirCache(opts.StateDir),
		HostPolicy: a.allowed,
		Email:      opts.Email,
		Client:     client,
	}
	return a, nil
}

// SetNames replaces the names certificates may be issued for.
func (a *ACME) SetNames(names []string) {
	n := slices.Clone(names)
	slices.Sort(n)
	n = slices.Compact(n)
	a.names.Store(&n)
}

// Names returns the names certificates may be issued for.
func (a *ACME) Names() []string { return *a.names.Load() }

func (a *ACME) allowed(_ context.Context, host string) error {
	// autocert's HTTP-01 handler passes the Host header, which carries a port when the
	// plain listener is not on 80.
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if _, ok := slices.BinarySearch(*a.names.Load(), host); ok {
		return nil
	}
	return fmt.Errorf("certs: %q is not a configured name", host)
}

// GetCertificate serves the certificate for the client's server name, obtaining it first
// if needed, and answers TLS-ALPN-01 challenges (tls.Config.GetCertificate).
func (a *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.manager.GetCertificate(hello)
}

// TLSConfig returns a server configuration that serves the certificates and offers the
// acme-tls/1 protocol for TLS-ALPN-01 (RFC 8737).
func (a *ACME) TLSConfig() *tls.Config {
	return &tls.Config{
		GetCertificate: a.GetCertificate,
		NextProtos:     []string{"http/1.1", acme.ALPNProto},
		MinVersion:     tls.VersionTLS12,
	}
}

// HTTPHandler answers HTTP-01 challenges under /.well-known/acme-challenge/ and passes
// every other request to next.
func (a *ACME) HTTPHandler(next http.Handler) http.Handler {
	return a.manager.HTTPHandler(next)
}

// Obtain gets (from the cache or the CA) a certificate for every name, so clients never
// wait for issuance (they give up after about 5 s). It calls got for each certificate
// and returns the errors of the names that failed.
func (a *ACME) Obtain(ctx context.Context, got func(name string, leaf *x509.Certificate)) error {
	var errs []error
	for _, name := range a.Names() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// An ECDSA-capable hello, so autocert issues an ECDSA certificate.
		hello := &tls.ClientHelloInfo{
			ServerName:        name,
			SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
			SupportedCurves:   []tls.CurveID{tls.CurveP256},
			CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
			SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
		}
		c, err := a.manager.GetCertificate(hello)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if c.Leaf != nil {
			got(name, c.Leaf)
		}
	}
	return errors.Join(errs...)
}
