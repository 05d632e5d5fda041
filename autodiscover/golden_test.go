package autodiscover

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current answers")

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
			if *update {
				if err := os.WriteFile(goldenPath(tc.name), body, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(goldenPath(tc.name))
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("answer differs from %s:\ngot:\n%s\nwant:\n%s", goldenPath(tc.name), body, want)
			}
		})
	}
}

var (
	timeAttr = regexp.MustCompile(`^\d{2}:\d{2}:\d{2}(\.\d+)?$`)
	// protocolElements are the Protocol children we write, in the 2006a namespace.
	protocolElements = map[string]bool{"Type": true, "Server": true, "Port": true, "DomainRequired": true, "LoginName": true,
		"SPA": true, "SSL": true, "Encryption": true, "AuthRequired": true, "UsePOPAuth": true, "SMTPLast": true, "TTL": true}
)

// TestGoldenClientRules reads every XML golden file back the way Outlook, exchangelib
// (autodiscover/properties.py) and Thunderbird (ExchangeAutoDiscover.sys.mjs) do.
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
			root, err := parseXML(b)
			if err != nil {
				t.Fatal(err)
			}
			// exchangelib Autodiscover.from_bytes: root must be {base}Autodiscover.
			if root.Name.Space != nsResponseBase || root.Name.Local != "Autodiscover" {
				t.Fatalf("root %v", root.Name)
			}
			if len(root.Children) != 1 || root.Children[0].Name.Local != "Response" {
				t.Fatalf("root must hold exactly one Response")
			}
			resp := root.Children[0]
			if resp.Name.Space != tc.responseNS {
				t.Fatalf("Response namespace %q, want %q", resp.Name.Space, tc.responseNS)
			}
			if tc.code != "" {
				checkErrorDocument(t, resp, tc.code)
				return
			}
			cat := qqCatalog(t)
			if tc.testCat {
				cat = testCatalog(t)
			}
			checkSettingsDocument(t, resp, cat)
		})
	}
}

// checkErrorDocument applies exchangelib's ErrorResponse/Error reading: Error directly
// under Response, every element in the Response's namespace, Time and Id attributes.
func checkErrorDocument(t *testing.T, resp *node, code string) {
	if len(resp.Children) != 1 || resp.Children[0].Name.Local != "Error" {
		t.Fatalf("Response must hold exactly one Error")
	}
	e := resp.Children[0]
	for _, n := range append([]*node{e}, e.Children...) {
		if n.Name.Space != resp.Name.Space {
			t.Errorf("%s in namespace %q, want %q", n.Name.Local, n.Name.Space, resp.Name.Space)
		}
	}
	if tm, ok := e.attr("Time"); !ok || !timeAttr.MatchString(tm) {
		t.Errorf("Time attribute %q is not hh:mm:ss[.fraction]", tm)
	}
	if id, ok := e.attr("Id"); !ok {
		t.Errorf("no Id attribute")
	} else if _, err := strconv.ParseUint(id, 10, 32); err != nil {
		t.Errorf("Id %q is not an unsigned int: %v", id, err)
	}
	if c := e.child("ErrorCode"); c == nil || c.Text != code {
		t.Errorf("ErrorCode %v, want %s", c, code)
	}
	if m := e.child("Message"); m == nil || m.Text == "" {
		t.Errorf("no Message")
	}
	if e.child("DebugData") == nil {
		t.Errorf("no DebugData")
	}
}

// checkSettingsDocument applies the clients' reading of a 2006a settings document.
func checkSettingsDocument(t *testing.T, resp *node, cat *mailconf.Catalog) {
	var all func(n *node)
	all = func(n *node) {
		if n.Name.Space != nsResponseOutlook {
			t.Errorf("%s in namespace %q, want 2006a", n.Name.Local, n.Name.Space)
		}
		for _, c := range n.Children {
			all(c)
		}
	}
	all(resp)
	if resp.child("User") == nil || resp.child("User").child("DisplayName") == nil {
		t.Errorf("no User/DisplayName")
	}
	accounts := resp.all("Account")
	if len(accounts) != 1 {
		t.Fatalf("%d Account elements, want exactly 1 (one per protocol broke Outlook, Monogramm 66c144e)", len(accounts))
	}
	acct := accounts[0]
	if a := acct.child("AccountType"); a == nil || a.Text != "email" {
		t.Errorf("AccountType %v, want email", a)
	}
	if a := acct.child("Action"); a == nil || a.Text != "settings" {
		t.Errorf("Action %v, want settings", a)
	}
	p := cat.Providers[len(cat.Providers)-1] // the provider the golden request asked for
	servers := append(append([]mailconf.Server(nil), p.Incoming...), p.Outgoing...)
	protocols := acct.all("Protocol")
	if len(protocols) != len(servers) {
		t.Fatalf("%d Protocol elements, want %d", len(protocols), len(servers))
	}
	for i, pr := range protocols {
		srv := servers[i]
		for _, c := range pr.Children {
			if !protocolElements[c.Name.Local] {
				t.Errorf("protocol %d: unexpected element %s", i, c.Name.Local)
			}
		}
		get := func(name string) string {
			c := pr.child(name)
			if c == nil {
				t.Errorf("protocol %d (%s): no %s", i, srv.Hostname, name)
				return ""
			}
			return c.Text
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
		// exchangelib: SPA defaults to True, so it must be present and off.
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
		// Thunderbird: SSL off or Encryption None is plain; otherwise STARTTLS on
		// 143/110/25/587 and implicit TLS elsewhere.
		tb := mailconf.SocketSSL
		switch {
		case strings.EqualFold(ssl, "off") || strings.EqualFold(enc, "none"):
			tb = mailconf.SocketPlain
		case port == 143 || port == 110 || port == 25 || port == 587:
			tb = mailconf.SocketSTARTTLS
		}
		if tb != srv.Socket {
			t.Errorf("protocol %d: Thunderbird reads %s, configured %s", i, tb, srv.Socket)
		}
		wantEnc := map[mailconf.SocketType]string{mailconf.SocketSSL: "SSL", mailconf.SocketSTARTTLS: "TLS", mailconf.SocketPlain: "None"}[srv.Socket]
		if enc != wantEnc {
			t.Errorf("protocol %d: Encryption %q, want %q", i, enc, wantEnc)
		}
		wantAuth := "on"
		if srv.Authentication == mailconf.AuthNone {
			wantAuth = "off"
		}
		if got := get("AuthRequired"); got != wantAuth {
			t.Errorf("protocol %d: AuthRequired %q, want %q", i, got, wantAuth)
		}
		if ttl, err := strconv.Atoi(get("TTL")); err != nil || ttl != cat.Autodiscover.TTL {
			t.Errorf("protocol %d: TTL %d (%v), want %d", i, ttl, err, cat.Autodiscover.TTL)
		}
		if srv.Type == mailconf.TypeSMTP {
			if u := get("UsePOPAuth"); u != "on" && u != "off" {
				t.Errorf("protocol %d: UsePOPAuth %q", i, u)
			}
			if got := get("SMTPLast"); got != "off" {
				t.Errorf("protocol %d: SMTPLast %q, want off", i, got)
			}
		} else if pr.child("UsePOPAuth") != nil || pr.child("SMTPLast") != nil {
			t.Errorf("protocol %d: UsePOPAuth/SMTPLast on an incoming server", i)
		}
	}
}
