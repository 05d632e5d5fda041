package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writePair writes a self-signed certificate with the given serial and its key.
func writePair(t *testing.T, dir string, serial int64) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "autoconfig.example.net"},
		DNSNames: []string{"autoconfig.example.net"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certPath, keyPath
}

func served(t *testing.T, f *Files) int64 {
	t.Helper()
	c, err := f.GetCertificate(&tls.ClientHelloInfo{ServerName: "autoconfig.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.SerialNumber.Int64()
}

func TestFilesReload(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := writePair(t, dir, 1)
	f, err := LoadFiles(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if served(t, f) != 1 {
		t.Fatal("first certificate")
	}
	if changed, err := f.Reload(false); changed || err != nil {
		t.Fatalf("unchanged files reloaded: %v %v", changed, err)
	}
	time.Sleep(10 * time.Millisecond) // a distinct modification time
	writePair(t, dir, 2)
	if changed, err := f.Reload(false); !changed || err != nil {
		t.Fatalf("changed files: %v %v", changed, err)
	}
	if served(t, f) != 2 || f.Leaf().SerialNumber.Int64() != 2 {
		t.Fatal("new certificate not served")
	}
	// A key that does not match is refused; the last good pair stays.
	os.WriteFile(keyPath, []byte("garbage"), 0o600)
	if _, err := f.Reload(true); err == nil {
		t.Fatal("bad key accepted")
	}
	if served(t, f) != 2 {
		t.Fatal("bad pair replaced the good one")
	}
	if _, err := LoadFiles(filepath.Join(dir, "missing.pem"), keyPath); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestACMEHostPolicy(t *testing.T) {
	a, err := NewACME(ACMEOptions{StateDir: t.TempDir()}, []string{"autoconfig.example.net", "autodiscover.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	for host, ok := range map[string]bool{
		"autoconfig.example.net":      true,
		"AUTOCONFIG.example.net.":     true,
		"autodiscover.example.net:80": true,
		"example.net":                 false,
		"autoconfig.evil.example":     false,
	} {
		if err := a.allowed(t.Context(), host); (err == nil) != ok {
			t.Errorf("allowed(%q) = %v, want ok=%v", host, err, ok)
		}
	}
	a.SetNames([]string{"autoconfig.example.org"})
	if a.allowed(t.Context(), "autoconfig.example.net") == nil {
		t.Error("old name still allowed after SetNames")
	}
	if _, err := NewACME(ACMEOptions{}, nil); err == nil {
		t.Error("no state directory accepted")
	}
}
