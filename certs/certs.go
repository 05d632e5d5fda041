// Package certs supplies the HTTPS listener's certificates: from PEM files that are
// re-read when they change, or from an ACME CA (RFC 8555) through autocert.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNoCertificate is returned by GetCertificate when nothing can be served.
var ErrNoCertificate = errors.New("certs: no certificate")

// Files serves one certificate chain and key from PEM files. Reload re-reads them when
// they changed; a bad pair is refused and the previous one stays in use.
type Files struct {
	certPath, keyPath string

	current atomic.Pointer[tls.Certificate]
	mu      sync.Mutex // serializes Reload
	stamp   fileStamp
}

// fileStamp identifies the versions of the two files last loaded.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// LoadFiles loads the certificate chain and key; both must be readable and match.
func LoadFiles(certPath, keyPath string) (*Files, error) {
	f := &Files{certPath: certPath, keyPath: keyPath}
	if _, err := f.Reload(true); err != nil {
		return nil, err
	}
	return f, nil
}

func stampOf(certPath, keyPath string) (fileStamp, error) {
	ci, err := os.Stat(certPath)
	if err != nil {
		return fileStamp{}, err
	}
	ki, err := os.Stat(keyPath)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{certMod: ci.ModTime(), keyMod: ki.ModTime(), certSize: ci.Size(), keySize: ki.Size()}, nil
}

// Reload re-reads the files if they changed since the last load, or always when force
// is set. It reports whether a new certificate is now served.
func (f *Files) Reload(force bool) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := stampOf(f.certPath, f.keyPath)
	if err != nil {
		return false, fmt.Errorf("certs: %w", err)
	}
	if !force && st == f.stamp {
		return false, nil
	}
	pair, err := tls.LoadX509KeyPair(f.certPath, f.keyPath)
	if err != nil {
		// A certificate and key written one after the other may be caught half-way;
		// the next check picks up the finished pair.
		return false, fmt.Errorf("certs: load %s and %s: %w", f.certPath, f.keyPath, err)
	}
	f.stamp = st
	f.current.Store(&pair)
	return true, nil
}

// GetCertificate serves the loaded certificate (tls.Config.GetCertificate).
func (f *Files) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := f.current.Load()
	if c == nil {
		return nil, ErrNoCertificate
	}
	return c, nil
}

// Leaf returns the served certificate's leaf.
func (f *Files) Leaf() *x509.Certificate {
	if c := f.current.Load(); c != nil {
		return c.Leaf
	}
	return nil
}
