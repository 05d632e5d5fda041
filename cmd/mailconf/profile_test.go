package main

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProfileSigning: the profile is signed with the HTTPS certificate files, or with a
// certificate configured for signing alone, and OpenSSL verifies the signature against
// the test CA; without any certificate it goes out unsigned.
func TestProfileSigning(t *testing.T) {
	openssl := needTool(t, "openssl", "openssl")
	dir := t.TempDir()
	ca := newTestCA(t)
	caPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ca.issue(t, 5, filepath.Join(dir, "https.pem"), filepath.Join(dir, "https.key"), "autoconfig.qq.com")
	ca.issue(t, 6, filepath.Join(dir, "sign.pem"), filepath.Join(dir, "sign.key"), "profiles.example.net")
	signing := writeConfig(t, dir, "signing.yaml", "providers: [{builtin: qq.com}]\nprofile: {cert_file: "+filepath.Join(dir, "sign.pem")+", key_file: "+filepath.Join(dir, "sign.key")+"}\n")

	fetch := func(d *testDaemon) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+d.addr["http"]+"/email.mobileconfig?emailaddress=alice%40qq.com", nil)
		req.Host = "autoconfig.qq.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-apple-aspen-config" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
		return b
	}
	d := startServe(t, "-https", "127.0.0.1:0", "-tls-cert", filepath.Join(dir, "https.pem"), "-tls-key", filepath.Join(dir, "https.key"))
	verifyProfileWithOpenSSL(t, openssl, fetch(d), caPEM, "autoconfig.qq.com", "alice@qq.com")
	d.stop(t)

	d = startServe(t, "-config", signing)
	verifyProfileWithOpenSSL(t, openssl, fetch(d), caPEM, "profiles.example.net", "alice@qq.com")
	d.stop(t)

	d = startServe(t)
	if b := fetch(d); !strings.HasPrefix(string(b), "<?xml") {
		t.Errorf("without a certificate: not a plain plist: %.40q", b)
	}
	d.stop(t)
}

// verifyProfileWithOpenSSL checks a signed profile with `openssl cms -verify` against
// the root in caPEM (intermediates must come in the signature, as Apple devices need
// them): the content must name address and the signer's first name must be wantSigner.
func verifyProfileWithOpenSSL(t *testing.T, openssl string, signed []byte, caPEM, wantSigner, address string) {
	t.Helper()
	tmp := t.TempDir()
	in, signer := filepath.Join(tmp, "p.mobileconfig"), filepath.Join(tmp, "signer.pem")
	if err := os.WriteFile(in, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", caPEM, "-purpose", "any", "-signer", signer).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "<string>"+address+"</string>") {
		t.Errorf("signed content:\n%s", out)
	}
	b, _ := os.ReadFile(signer)
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("openssl wrote no signer certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || len(cert.DNSNames) == 0 || cert.DNSNames[0] != wantSigner {
		t.Errorf("signed by %v, want %s", cert.DNSNames, wantSigner)
	}
}
