package autodiscover

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/clientrules"
	"github.com/mailconf/mailconf/internal/golden"
)

// goldenCase is one answer pinned byte for byte in testdata/<name>.golden.
type goldenCase struct {
	name       string
	testCat    bool // the STARTTLS/plain deployment instead of the built-in QQ Mail
	method     string
	path       string
	body       string
	wantStatus int
	// For XML answers: the Response namespace and the error code ("" for settings).
	responseNS string
	code       string
}

var goldenCases = []goldenCase{
	{name: "pox-qq-success", method: "POST", path: PathXML, body: autodiscoverRequest("user@qq.com"),
		wantStatus: 200, responseNS: nsResponseOutlook},
	{name: "pox-starttls-plain-success", testCat: true, method: "POST", path: PathXML, body: autodiscoverRequest("Jane.Doe@example.net"),
		wantStatus: 200, responseNS: nsResponseOutlook},
	{name: "pox-error-600", method: "POST", path: PathXML, body: "<Autodiscover><Request>",
		wantStatus: 200, responseNS: nsResponseBase, code: "600"},
	{name: "pox-error-600-get", method: "GET", path: PathXML,
		wantStatus: 200, responseNS: nsResponseBase, code: "600"},
	{name: "pox-error-500", method: "POST", path: PathXML, body: autodiscoverRequest("user@example.com"),
		wantStatus: 200, responseNS: nsResponseBase, code: "500"},
	{name: "pox-error-601", method: "POST", path: PathXML,
		body:       strings.Replace(autodiscoverRequest("user@qq.com"), nsResponseOutlook, "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006b", 1),
		wantStatus: 200, responseNS: nsResponseBase, code: "601"},
	{name: "pox-mobilesync-601", method: "POST", path: PathXML, body: mobilesyncRequest("user@qq.com"),
		wantStatus: 200, responseNS: nsResponseMobilesync, code: "601"},
	{name: "json-v1-derived", method: "GET", path: PathJSON + "?Email=user%40qq.com&Protocol=AutodiscoverV1&RedirectCount=1", wantStatus: 200},
	{name: "json-v1-configured", testCat: true, method: "GET", path: PathJSON + "/v1.0/user@example.org?Protocol=Autodiscoverv1&RedirectCount=1", wantStatus: 200},
	{name: "json-invalid-protocol", method: "GET", path: PathJSON + "?Email=user%40qq.com&Protocol=ActiveSync", wantStatus: 400},
	{name: "json-invalid-email", method: "GET", path: PathJSON + "?Email=not-an-address&Protocol=AutodiscoverV1", wantStatus: 400},
	{name: "json-unknown-domain", method: "GET", path: PathJSON + "/v1.0/user@example.com?Protocol=AutodiscoverV1", wantStatus: 404},
}

// mobilesyncRequest builds the ActiveSync request new Outlook for Windows and Android
// mail send (MS-ASCMD §2.2.3.1).
func mobilesyncRequest(address string) string {
	return `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + nsRequestMobilesync + `"><Request><EMailAddress>` +
		address + `</EMailAddress><AcceptableResponseSchema>` + nsResponseMobilesync + `</AcceptableResponseSchema></Request></Autodiscover>`
}

func goldenPath(name string) string { return filepath.Join("testdata", name+".golden") }

// TestGolden fetches every answer format from a real listener and compares it byte for
// byte with its golden file; -update rewrites the files.
func TestGolden(t *testing.T) {
	servers := map[bool]*testServer{
		false: startServer(t, newTestHandler(t, qqCatalog(t))),
		true:  startServer(t, newTestHandler(t, testCatalog(t))),
	}
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := servers[tc.testCat].do(t, tc.method, tc.path, "text/xml; charset=utf-8", tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			wantCT := "text/xml; charset=utf-8"
			if strings.HasPrefix(tc.name, "json-") {
				wantCT = "application/json"
			}
			if ct := resp.Header.Get("Content-Type"); ct != wantCT {
				t.Errorf("Content-Type %q, want %q", ct, wantCT)
			}
			golden.Check(t, goldenPath(tc.name), body)
		})
	}
}

// protocolElements are the Protocol children mailconf writes, in the 2006a namespace.
var protocolElements = map[string]bool{"Type": true, "Server": true, "Port": true, "DomainRequired": true, "LoginName": true,
	"SPA": true, "SSL": true, "Encryption": true, "AuthRequired": true, "UsePOPAuth": true, "SMTPLast": true, "TTL": true}

// TestGoldenClientRules reads every XML golden file back the way Outlook, exchangelib
// (autodiscover/properties.py) and Thunderbird (ExchangeAutoDiscover.sys.mjs) do, with
// the rules in internal/clientrules, then compares what they take with the catalog.
func TestGoldenClientRules(t *testing.T) {
	for _, tc := range goldenCases {
		if tc.responseNS == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			b, err := os.ReadFile(goldenPath(tc.name))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="utf-8"?>`)) {
				t.Errorf("document does not start with the XML declaration (no BOM, nothing before it)")
			}
			pox, err := clientrules.ParsePOX(b)
			if err != nil {
				t.Fatal(err)
			}
			if pox.ResponseNS != tc.responseNS {
				t.Fatalf("Response namespace %q, want %q", pox.ResponseNS, tc.responseNS)
			}
			if tc.code != "" {
				if pox.Error == nil || pox.Error.Code != tc.code {
					t.Errorf("error %+v, want ErrorCode %s", pox.Error, tc.code)
				}
				return
			}
			if pox.Error != nil {
				t.Fatalf("error document %+v, want settings", pox.Error)
			}
			cat := qqCatalog(t)
			if tc.testCat {
				cat = testCatalog(t)
			}
			checkSettingsDocument(t, pox, cat)
		})
	}
}

// checkSettingsDocument compares the Protocols the clients read with the provider the
// golden request asked for, and applies mailconf's own rules for each element.
func checkSettingsDocument(t *testing.T, pox *clientrules.POX, cat *mailconf.Catalog) {
	p := cat.Providers[len(cat.Providers)-1] // the provider the golden request asked for
	servers := append(append([]mailconf.Server(nil), p.Incoming...), p.Outgoing...)
	if len(pox.Protocols) != len(servers) {
		t.Fatalf("%d Protocol elements, want %d", len(pox.Protocols), len(servers))
	}
	for i, pr := range pox.Protocols {
		srv := servers[i]
		for _, name := range pr.Order {
			if !protocolElements[name] {
				t.Errorf("protocol %d: unexpected element %s", i, name)
			}
		}
		get := func(name string) string {
			v, ok := pr.Field(name)
			if !ok {
				t.Errorf("protocol %d (%s): no %s", i, srv.Hostname, name)
			}
			return v
		}
		wantType := map[string]string{"imap": "IMAP", "pop3": "POP3", "smtp": "SMTP"}[string(srv.Type)]
		if got := get("Type"); got != wantType {
			t.Errorf("protocol %d: Type %q, want %q (preference order)", i, got, wantType)
		}
		if got := get("Server"); got != srv.Hostname.String() {
			t.Errorf("protocol %d: Server %q, want %q", i, got, srv.Hostname)
		}
		port, err := strconv.Atoi(get("Port"))
		if err != nil || port != srv.Port {
			t.Errorf("protocol %d: Port %d (%v), want %d", i, port, err, srv.Port)
		}
		if got := get("SPA"); got != "off" {
			t.Errorf("protocol %d: SPA %q, want off", i, got)
		}
		if got := get("DomainRequired"); got != "off" {
			t.Errorf("protocol %d: DomainRequired %q, want off", i, got)
		}
		get("LoginName")
		ssl, enc := get("SSL"), get("Encryption")
		if ssl != "on" && ssl != "off" {
			t.Errorf("protocol %d: SSL %q", i, ssl)
		}
		if tb := pr.ThunderbirdSocket(); tb != string(srv.Socket) {
			t.Errorf("protocol %d: Thunderbird reads %s, configured %s", i, tb, srv.Socket)
		}
		if ol := pr.OutlookSocket(); ol != string(srv.Socket) {
			t.Errorf("protocol %d: Outlook reads %s, configured %s", i, ol, srv.Socket)
		}
		wantEnc := map[mailconf.SocketType]string{mailconf.SocketSSL: "SSL", mailconf.SocketSTARTTLS: "TLS", mailconf.SocketPlain: "None"}[srv.Socket]
		if enc != wantEnc {
			t.Errorf("protocol %d: Encryption %q, want %q", i, enc, wantEnc)
		}
		wantAuth := "on"
		if srv.Authentication.First() == mailconf.AuthNone {
			wantAuth = "off"
		}
		if got := get("AuthRequired"); got != wantAuth {
			t.Errorf("protocol %d: AuthRequired %q, want %q", i, got, wantAuth)
		}
		if ttl, err := strconv.Atoi(get("TTL")); err != nil || ttl != cat.Autodiscover.TTL {
			t.Errorf("protocol %d: TTL %d (%v), want %d", i, ttl, err, cat.Autodiscover.TTL)
		}
		_, usePOPAuth := pr.Field("UsePOPAuth")
		_, smtpLast := pr.Field("SMTPLast")
		if srv.Type == mailconf.TypeSMTP {
			if u := get("UsePOPAuth"); u != "on" && u != "off" {
				t.Errorf("protocol %d: UsePOPAuth %q", i, u)
			}
			if got := get("SMTPLast"); got != "off" {
				t.Errorf("protocol %d: SMTPLast %q, want off", i, got)
			}
		} else if usePOPAuth || smtpLast {
			t.Errorf("protocol %d: UsePOPAuth/SMTPLast on an incoming server", i)
		}
	}
}
