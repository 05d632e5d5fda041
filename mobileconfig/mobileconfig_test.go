package mobileconfig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"howett.net/plist"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/clientrules"
	"github.com/mailconf/mailconf/internal/golden"
)

const testYAML = `
providers:
  - builtin: qq.com
  - id: example.net
    display_name: {en: "Example & <Mail>", zh-CN: 示例邮箱}
    domains: [example.net]
    incoming:
      - {type: pop3, hostname: pop.example.net, port: 110, socket: STARTTLS, username: "%EMAILLOCALPART%"}
    outgoing:
      - {hostname: smtp.example.net, port: 587, socket: STARTTLS, username: "%EMAILADDRESS%", authentication: password-encrypted}
  - id: groupware.example
    display_name: Groupware
    domains: [groupware.example]
    incoming:
      - {type: imap, hostname: imap.groupware.example, port: 993, socket: SSL, authentication: [OAuth2, password-cleartext]}
    outgoing:
      - {hostname: smtp.groupware.example, port: 465, socket: SSL, authentication: [OAuth2, password-cleartext]}
    calendars:
      - url: http://dav.groupware.example/dav/
      - url: https://dav.groupware.example/dav/
    contacts:
      - {url: "https://contacts.groupware.example:8443/dav/", username: "%EMAILLOCALPART%"}
    oauth2: {issuer: login.groupware.example, scope: IMAP, auth_url: "https://login.groupware.example/a", token_url: "https://login.groupware.example/t"}
profile:
  organization: Example Org
`

func testCatalog(t testing.TB) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Parse("test.yaml", []byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func address(t testing.TB, s string) mailconf.Address {
	t.Helper()
	a, err := mailconf.ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// profileDoc is what the tests read back with an independent plist parser.
type profileDoc struct {
	PayloadType, PayloadIdentifier, PayloadUUID, PayloadDisplayName, PayloadOrganization, PayloadDescription string
	PayloadVersion                                                                                           int
	PayloadRemovalDisallowed                                                                                 bool
	PayloadContent                                                                                           []map[string]any
}

func parse(t *testing.T, b []byte) profileDoc {
	t.Helper()
	var p profileDoc
	if _, err := plist.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a plist: %v\n%s", err, b)
	}
	return p
}

func TestBuild(t *testing.T) {
	cat := testCatalog(t)
	qq, _ := cat.Lookup(address(t, "a@qq.com").Domain)
	ex, _ := cat.Lookup(address(t, "a@example.net").Domain)
	for _, tc := range []struct {
		name     string
		p        *mailconf.Provider
		addr     string
		org      string
		want     map[string]any
		wantOrg  string
		wantName string
	}{
		{"QQ Mail", qq, "alice@qq.com", "", map[string]any{
			"PayloadType": "com.apple.mail.managed", "PayloadVersion": uint64(1),
			"EmailAccountType": "EmailTypeIMAP", "EmailAddress": "alice@qq.com", "EmailAccountDescription": "QQ Mail",
			"IncomingMailServerHostName": "imap.qq.com", "IncomingMailServerPortNumber": uint64(993), "IncomingMailServerUseSSL": true,
			"IncomingMailServerUsername": "alice@qq.com", "IncomingMailServerAuthentication": "EmailAuthPassword",
			"OutgoingMailServerHostName": "smtp.qq.com", "OutgoingMailServerPortNumber": uint64(465), "OutgoingMailServerUseSSL": true,
			"OutgoingMailServerUsername": "alice@qq.com", "OutgoingMailServerAuthentication": "EmailAuthPassword",
			"OutgoingPasswordSameAsIncomingPassword": true,
		}, "QQ Mail", "QQ Mail"},
		{"POP only, local part, CRAM-MD5, escaping", ex, `"x<y"@example.net`, "Example Org", map[string]any{
			"EmailAccountType": "EmailTypePOP", "EmailAddress": `"x<y"@example.net`, "EmailAccountDescription": "Example & <Mail>",
			"IncomingMailServerHostName": "pop.example.net", "IncomingMailServerPortNumber": uint64(110), "IncomingMailServerUseSSL": true,
			"IncomingMailServerUsername": `"x<y"`, "OutgoingMailServerUsername": `"x<y"@example.net`,
			"OutgoingMailServerAuthentication": "EmailAuthCRAMMD5", "OutgoingPasswordSameAsIncomingPassword": false,
		}, "Example Org", "Example & <Mail>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := address(t, tc.addr)
			b, err := Build(tc.p, a, "en", tc.org)
			if err != nil {
				t.Fatal(err)
			}
			// The keys a device requires (internal/clientrules).
			if cp, err := clientrules.ParseProfile(b); err != nil {
				t.Errorf("device rules: %v", err)
			} else if in := tc.p.PreferredIncoming(); cp.Incoming.Hostname != in.Hostname.String() || cp.Incoming.Port != in.Port || cp.Signed {
				t.Errorf("device reads incoming %+v, signed %v", cp.Incoming, cp.Signed)
			}
			p := parse(t, b)
			if p.PayloadType != "Configuration" || p.PayloadVersion != 1 || p.PayloadRemovalDisallowed || p.PayloadOrganization != tc.wantOrg || p.PayloadDisplayName != tc.wantName {
				t.Errorf("top level %+v", p)
			}
			if len(p.PayloadContent) != 1 {
				t.Fatalf("%d payloads", len(p.PayloadContent))
			}
			mail := p.PayloadContent[0]
			for k, want := range tc.want {
				if got := mail[k]; got != want {
					t.Errorf("%s = %#v, want %#v", k, got, want)
				}
			}
			for k := range mail {
				if strings.Contains(strings.ToLower(k), "password") && k != "OutgoingPasswordSameAsIncomingPassword" {
					t.Errorf("the profile holds %s", k)
				}
			}
			// The same request gives the same bytes; the identifiers are reverse-DNS
			// and UUIDs, derived from provider and address.
			again, _ := Build(tc.p, a, "en", tc.org)
			if !bytes.Equal(b, again) {
				t.Error("two builds differ")
			}
			if !strings.HasPrefix(p.PayloadIdentifier, reverse(tc.p.ID.String())+".mailconf.") || mail["PayloadIdentifier"] != p.PayloadIdentifier+".mail" {
				t.Errorf("identifiers %q %q", p.PayloadIdentifier, mail["PayloadIdentifier"])
			}
			for _, u := range []string{p.PayloadUUID, mail["PayloadUUID"].(string)} {
				if len(u) != 36 || u[14] != '5' {
					t.Errorf("PayloadUUID %q is not a version 5 UUID", u)
				}
			}
			other, _ := Build(tc.p, address(t, "someone.else@"+a.Domain.String()), "en", tc.org)
			if po := parse(t, other); po.PayloadUUID == p.PayloadUUID || po.PayloadIdentifier == p.PayloadIdentifier {
				t.Error("another address gets the same identifiers")
			}
			// The mailbox, not the spelling of its local part, names the profile.
			upper, _ := Build(tc.p, address(t, strings.ToUpper(a.LocalPart)+"@"+a.Domain.String()), "en", tc.org)
			if pu := parse(t, upper); pu.PayloadUUID != p.PayloadUUID {
				t.Error("the upper-case address gets another profile")
			}
		})
	}
}

// TestGolden compares each provider's profile for one address with
// testdata/<id>.golden and reads it with the device rules: the mail account, and the
// calendar and contacts accounts of the service a client should use.
func TestGolden(t *testing.T) {
	cat := testCatalog(t)
	for _, p := range cat.Providers {
		t.Run(p.ID.String(), func(t *testing.T) {
			a := address(t, "alice@"+p.Domains[0].String())
			got, err := Build(p, a, "en", "")
			if err != nil {
				t.Fatal(err)
			}
			want := golden.Check(t, filepath.Join("testdata", p.ID.String()+".golden"), got)
			cp, err := clientrules.ParseProfile(want)
			if err != nil {
				t.Fatalf("device rules: %v", err)
			}
			check := func(kind string, got []clientrules.DAVAccount, s *mailconf.DAVService) {
				t.Helper()
				if s == nil {
					if len(got) != 0 {
						t.Errorf("%s accounts %+v without a service", kind, got)
					}
					return
				}
				want := clientrules.DAVAccount{Host: s.URL.Hostname(), Port: int(s.Port), UseSSL: s.URL.Scheme == "https", PrincipalURL: s.URL.String(), Username: s.LoginName(a)}
				if len(got) != 1 || got[0] != want {
					t.Errorf("%s accounts %+v, want %+v", kind, got, want)
				}
			}
			check("calendar", cp.Calendars, mailconf.PreferredDAV(p.Calendars))
			check("contacts", cp.Contacts, mailconf.PreferredDAV(p.Contacts))
			// Apple profiles cannot say OAuth2: the password method after it.
			if in := cp.Incoming; in.Hostname != p.PreferredIncoming().Hostname.String() {
				t.Errorf("incoming %+v", in)
			}
		})
	}
}

func reverse(d string) string {
	l := strings.Split(d, ".")
	for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
		l[i], l[j] = l[j], l[i]
	}
	return strings.Join(l, ".")
}

// TestNameUUID checks the version 5 construction against RFC 9562's example (the DNS
// namespace and www.example.com).
func TestNameUUID(t *testing.T) {
	saved := uuidNamespace
	defer func() { uuidNamespace = saved }()
	uuidNamespace = [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, want := nameUUID("www.example.com"), "2ED6657D-E927-568B-95E1-2665A8AEA6A2"; got != want {
		t.Errorf("nameUUID = %s, want %s", got, want)
	}
}

// testPKI is a root, an intermediate and a TLS server leaf (serverAuth only, as ACME
// issues), written as PEM files for openssl.
type testPKI struct {
	dir    string
	leaf   *tls.Certificate
	rootPE string // path of the root's PEM
}

func newPKI(t *testing.T, rsaLeaf bool) *testPKI {
	t.Helper()
	dir := t.TempDir()
	mk := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rootTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	root := mk(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	inter := mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test intermediate"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, root, &interKey.PublicKey, rootKey)
	var leafKey crypto.Signer
	if rsaLeaf {
		leafKey, _ = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		leafKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	leaf := mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "autoconfig.qq.com"}, DNSNames: []string{"autoconfig.qq.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		inter, leafKey.Public(), interKey)
	pki := &testPKI{dir: dir, leaf: &tls.Certificate{Certificate: [][]byte{leaf.Raw, inter.Raw}, PrivateKey: leafKey, Leaf: leaf}, rootPE: filepath.Join(dir, "root.pem")}
	if err := os.WriteFile(pki.rootPE, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return pki
}

// verifyCMS checks a signed profile with OpenSSL, trusting only the test root (the
// intermediate must come from the SignedData), and returns the content.
func verifyCMS(t *testing.T, signed []byte, rootPEM string) []byte {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("MAILCONF_REQUIRE_TOOLS") != "" {
			t.Fatal("openssl not installed")
		}
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "p.mobileconfig"), filepath.Join(dir, "p.plist")
	if err := os.WriteFile(in, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	// A TLS server certificate is not an S/MIME one: -purpose any (openssl-cms(1)).
	cmd := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", rootPEM, "-purpose", "any", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, b)
	}
	content, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return content
}

func TestSignVerifiesWithOpenSSL(t *testing.T) {
	cat := testCatalog(t)
	a := address(t, "alice@qq.com")
	p, _ := cat.Lookup(a.Domain)
	body, err := Build(p, a, "en", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, rsaLeaf := range []bool{false, true} {
		pki := newPKI(t, rsaLeaf)
		signed, err := Sign(body, pki.leaf)
		if err != nil {
			t.Fatal(err)
		}
		if got := verifyCMS(t, signed, pki.rootPE); !bytes.Equal(got, body) {
			t.Errorf("rsa %v: the signed content differs from the profile", rsaLeaf)
		}
	}
	if _, err := Sign(body, &tls.Certificate{}); err == nil {
		t.Error("signed without a key")
	}
}

func TestHandler(t *testing.T) {
	cat := testCatalog(t)
	h := New(cat, nil)
	pki := newPKI(t, false)
	var askedHost string
	h.SetSigner(func(host string) *tls.Certificate { askedHost = host; return pki.leaf })
	srv := httptest.NewServer(httpserver.New(httpserver.Options{}, h))
	defer srv.Close()
	get := func(target string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+target, nil)
		for i := 0; i+1 < len(header); i += 2 {
			if header[i] == "Host" {
				req.Host = header[i+1]
			} else {
				req.Header.Set(header[i], header[i+1])
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := get("/email.mobileconfig?emailaddress=alice%40qq.com", "Host", "AutoConfig.QQ.com:443")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType || resp.Header.Get("Content-Disposition") != `attachment; filename="qq.com.mobileconfig"` {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if askedHost != "autoconfig.qq.com" {
		t.Errorf("signer asked for %q", askedHost)
	}
	if cp, err := clientrules.ParseProfile(body); err != nil || !cp.Signed || cp.Signer.Subject.CommonName != "autoconfig.qq.com" || cp.EmailAddress != "alice@qq.com" {
		t.Errorf("device rules on the signed profile: %v %+v", err, cp)
	}
	content := verifyCMS(t, body, pki.rootPE)
	if p := parse(t, content); p.PayloadContent[0]["EmailAddress"] != "alice@qq.com" {
		t.Errorf("signed profile content %+v", p)
	}
	// Unsigned without a signer, in the asked language.
	h.SetSigner(nil)
	_, body = get("/email.mobileconfig?emailaddress=alice%40qq.com&lang=zh-CN")
	if p := parse(t, body); !strings.Contains(p.PayloadDescription, "设置") {
		t.Errorf("unsigned, zh-CN: %q", p.PayloadDescription)
	}
	for target, want := range map[string]int{
		"/email.mobileconfig":                                  400,
		"/email.mobileconfig?emailaddress=nope":                400,
		"/email.mobileconfig?emailaddress=%3Cb%3E%40qq.com":    400,
		"/email.mobileconfig?emailaddress=alice%40example.org": 404,
	} {
		resp, body := get(target)
		if resp.StatusCode != want || strings.Contains(string(body), "<b>") || strings.Contains(string(body), "example.org") {
			t.Errorf("%s: %d %q, want %d", target, resp.StatusCode, body, want)
		}
	}
}

func BenchmarkProfile(b *testing.B) {
	cat := testCatalog(b)
	a := address(b, "alice@qq.com")
	p, _ := cat.Lookup(a.Domain)
	b.Run("build", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Build(p, a, "en", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	body, _ := Build(p, a, "en", "")
	b.Run("sign-ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Sign(body, cert); err != nil {
				b.Fatal(err)
			}
		}
	})
}
