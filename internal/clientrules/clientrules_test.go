package clientrules

import (
	"fmt"
	"strings"
	"testing"
)

func TestMistakes(t *testing.T) {
	for _, tc := range []struct {
		s    Server
		want string // "id want" of each mistake, joined by ", "
	}{
		{Server{Type: "imap", Hostname: "imap.qq.com", Port: 993, Socket: "SSL"}, ""},
		{Server{Type: "pop3", Hostname: "pop.qq.com", Port: 995, Socket: "SSL"}, ""},
		{Server{Type: "smtp", Hostname: "smtp.qq.com", Port: 465, Socket: "SSL"}, ""},
		{Server{Type: "smtp", Hostname: "smtp.qq.com", Port: 587, Socket: "STARTTLS"}, ""},
		{Server{Type: "smtp", Hostname: "mx.example.com", Port: 25, Socket: "STARTTLS"}, ""},
		{Server{Type: "imap", Hostname: "mail.example.com", Port: 1993, Socket: "SSL"}, ""},
		{Server{Type: "imap", Hostname: "mail.example.com", Port: 143, Socket: SocketSTARTTLSOrPlain}, ""},
		// docs/qq-mail.md, "Mistakes in circulation".
		{Server{Type: "imap", Hostname: "imap.qq.com", Port: 995, Socket: "SSL"}, "port-of-another-protocol 993"},
		{Server{Type: "imap", Hostname: "pop.qq.com", Port: 993, Socket: "SSL"}, "host-of-another-protocol "},
		{Server{Type: "imap", Hostname: "imap.qq.com", Port: 143, Socket: "SSL"}, "ssl-on-starttls-port 993"},
		{Server{Type: "pop3", Hostname: "pop.qq.com", Port: 110, Socket: "SSL"}, "ssl-on-starttls-port 995"},
		{Server{Type: "pop3", Hostname: "pop.qq.com", Port: 465, Socket: "SSL"}, "port-of-another-protocol 995"},
		{Server{Type: "imap", Hostname: "imap.qq.com", Port: 993, Socket: "TLS"}, "socket-type-spelling SSL"},
		{Server{Type: "smtp", Hostname: "smtp.qq.com", Port: 587, Socket: "TLS"}, "socket-type-spelling STARTTLS"},
		{Server{Type: "smtp", Hostname: "smtp.qq.com", Port: 465, Socket: "STARTTLS"}, "starttls-on-ssl-port SSL"},
		{Server{Type: "smtp", Hostname: "smtp.qq.com", Port: 995, Socket: "SSL"}, "port-of-another-protocol 465"},
		{Server{Type: "imap", Hostname: "pop.qq.com", Port: 995, Socket: "SSL"}, "port-of-another-protocol 993, host-of-another-protocol "},
		{Server{Type: "caldav", Hostname: "pop.qq.com", Port: 995}, ""},
	} {
		var got []string
		for _, m := range Mistakes(tc.s) {
			got = append(got, fmt.Sprintf("%s %s", m.ID, m.Want))
			if m.String() == string(m.ID) {
				t.Errorf("%v: no description for %s", tc.s, m.ID)
			}
		}
		if g := strings.Join(got, ", "); g != tc.want {
			t.Errorf("%v: %q, want %q", tc.s, g, tc.want)
		}
	}
}

// autoconfigDoc is a document with one imap, one pop3 and one smtp server; replace
// changes it.
func autoconfigDoc(replace ...string) []byte {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
    <displayName>Example</displayName>
    <incomingServer type="imap">
      <hostname>imap.example.com</hostname>
      <port>993</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">
      <hostname>pop.example.com</hostname>
      <port>995</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.com</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <authentication>password-cleartext</authentication>
      <username>%EMAILADDRESS%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>
`
	return []byte(strings.NewReplacer(replace...).Replace(doc))
}

func TestAutoconfigRules(t *testing.T) {
	for _, tc := range []struct {
		name            string
		body            []byte
		contentType     string
		tb, k9, common  string // "" accepts, else a part of the reason
		tbIncoming, k9n int
	}{
		{name: "good", body: autoconfigDoc(), tbIncoming: 2, k9n: 1},
		// Elements of later format versions (calendar, contacts, OAuth2) are skipped.
		{name: "unknown elements", body: autoconfigDoc(`<displayName>`, `<addressBook type="carddav"><username>%EMAILADDRESS%</username><serverURL>https://dav.example.com/</serverURL></addressBook><oAuth2><issuer>x</issuer></oAuth2><displayName>`), tbIncoming: 2, k9n: 1},
		{name: "text/html", body: autoconfigDoc(), contentType: "text/html", tb: "Content-Type", tbIncoming: 2, k9n: 1},
		{name: "socketType TLS", body: autoconfigDoc("<socketType>SSL</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%</username>\n    </incomingServer>\n    <incomingServer type=\"pop3\">", "<socketType>TLS</socketType>\n      <authentication>password-cleartext</authentication>\n      <username>%EMAILADDRESS%</username>\n    </incomingServer>\n    <incomingServer type=\"pop3\">"),
			k9: `socketType "TLS"`, tbIncoming: 1},
		{name: "plain", body: autoconfigDoc("<port>465</port>\n      <socketType>SSL", "<port>465</port>\n      <socketType>plain"), k9: `socketType "plain"`, tbIncoming: 2},
		{name: "no imap", body: autoconfigDoc(`type="imap"`, `type="pop3"`), k9: "no imap server", tbIncoming: 2},
		{name: "no id", body: autoconfigDoc(` id="example.com"`, ``), tb: "emailProvider id", k9: "emailProvider id"},
		{name: "no displayName", body: autoconfigDoc(`<displayName>Example</displayName>`, ``), tb: "undefined", k9n: 1},
		{name: "element in text", body: autoconfigDoc(`<hostname>imap.example.com</hostname>`, `<hostname>imap.<b/>example.com</hostname>`), k9: "inside text element", tbIncoming: 2},
		{name: "whitespace", body: autoconfigDoc(`<hostname>smtp.example.com</hostname>`, `<hostname> smtp.example.com</hostname>`), k9: "whitespace", common: "surrounding whitespace", tbIncoming: 2},
		{name: "mixed placeholder", body: autoconfigDoc(`<username>%EMAILADDRESS%</username>
    </incomingServer>
    <incomingServer type="pop3">`, `<username>x%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="pop3">`), common: "mixes a placeholder", tbIncoming: 2, k9n: 1},
		{name: "password", body: autoconfigDoc(`<displayName>`, `<password>x</password><displayName>`), common: "<password>", tbIncoming: 2, k9n: 1},
		{name: "BOM", body: append([]byte("\xef\xbb\xbf"), autoconfigDoc()...), tb: "BOM", k9: "BOM", common: "BOM"},
		{name: "DOCTYPE", body: autoconfigDoc(`<clientConfig`, `<!DOCTYPE x><clientConfig`), tb: "DOCTYPE", k9: "DOCTYPE", common: "DOCTYPE"},
		{name: "other root", body: autoconfigDoc(`clientConfig`, `config`), tb: "root", k9: "root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "text/xml; charset=utf-8"
			}
			check := func(client, want string, err error) {
				t.Helper()
				switch {
				case want == "" && err != nil:
					t.Errorf("%s rejects: %v", client, err)
				case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
					t.Errorf("%s: %v, want a rejection naming %q", client, err, want)
				}
			}
			tb, err := Thunderbird(tc.body, ct)
			check("Thunderbird", tc.tb, err)
			if err == nil && len(tb.Incoming) != tc.tbIncoming {
				t.Errorf("Thunderbird took %d incoming servers, want %d", len(tb.Incoming), tc.tbIncoming)
			}
			k9, err := ThunderbirdAndroid(tc.body)
			check("Thunderbird for Android", tc.k9, err)
			if err == nil && (len(k9.Incoming) != tc.k9n || k9.Incoming[0].Hostname != "imap.example.com") {
				t.Errorf("Thunderbird for Android took %+v", k9.Incoming)
			}
			check("common rules", tc.common, AutoconfigCommon(tc.body))
		})
	}
	raw, err := AutoconfigServers(autoconfigDoc("<port>993</port>\n      <socketType>SSL", "<port>995</port>\n      <socketType>TLS"))
	if err != nil || len(raw) != 3 || raw[0].Port != 995 || raw[0].Socket != "TLS" || raw[2].Type != "smtp" {
		t.Fatalf("raw servers %+v %v", raw, err)
	}
	if m := Mistakes(raw[0]); len(m) != 2 || m[0].ID != MistakeSocketSpelling || m[1].ID != MistakePortOfOtherProtocol {
		t.Errorf("mistakes of IMAP on 995 with TLS: %v", m)
	}
}

// poxSettings is a settings answer with one IMAP and one SMTP Protocol; replace
// changes it.
func poxSettings(replace ...string) []byte {
	doc := `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="` + NSResponseBase + `"><Response xmlns="` + NSResponseOutlook + `">
<User><DisplayName>a@example.com</DisplayName></User>
<Account><AccountType>email</AccountType><Action>settings</Action>
<Protocol><Type>IMAP</Type><Server>imap.example.com</Server><Port>993</Port><LoginName>a@example.com</LoginName><SPA>off</SPA><SSL>on</SSL><Encryption>SSL</Encryption></Protocol>
<Protocol><Type>SMTP</Type><Server>smtp.example.com</Server><Port>587</Port><LoginName>a@example.com</LoginName><SPA>off</SPA><SSL>on</SSL><Encryption>TLS</Encryption><X-Unknown>1</X-Unknown></Protocol>
</Account></Response></Autodiscover>`
	return []byte(strings.NewReplacer(replace...).Replace(doc))
}

func poxError(ns, code string) []byte {
	return []byte(`<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + NSResponseBase + `"><Response xmlns="` + ns + `"><Error Time="21:25:04.8897083" Id="4130155072"><ErrorCode>` + code + `</ErrorCode><Message>m</Message><DebugData /></Error></Response></Autodiscover>`)
}

func TestParsePOX(t *testing.T) {
	p, err := ParsePOX(poxSettings())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Protocols) != 2 || p.DisplayName != "a@example.com" {
		t.Fatalf("%+v", p)
	}
	imap, smtp := p.Protocols[0].Server(), p.Protocols[1].Server()
	if imap.String() != "IMAP imap.example.com:993 SSL" || smtp.String() != "SMTP smtp.example.com:587 STARTTLS" || imap.Username != "a@example.com" {
		t.Errorf("Outlook reads %v and %v", imap, smtp)
	}
	if p.Protocols[1].ThunderbirdSocket() != SocketSTARTTLS {
		t.Errorf("Thunderbird reads %s for 587", p.Protocols[1].ThunderbirdSocket())
	}
	// STARTTLS on a port Thunderbird does not know: the two clients read it apart.
	p2, _ := ParsePOX(poxSettings("<Port>587</Port>", "<Port>2525</Port>"))
	if p2.Protocols[1].OutlookSocket() != SocketSTARTTLS || p2.Protocols[1].ThunderbirdSocket() != SocketSSL {
		t.Errorf("2525: Outlook %s, Thunderbird %s", p2.Protocols[1].OutlookSocket(), p2.Protocols[1].ThunderbirdSocket())
	}
	e, err := ParsePOX(poxError(NSResponseBase, "500"))
	if err != nil || e.Error == nil || e.Error.Code != "500" {
		t.Fatalf("error document: %+v %v", e, err)
	}
	for name, tc := range map[string]struct {
		body []byte
		want string
	}{
		"error in 2006a":    {poxError(NSResponseOutlook, "500"), "empty success"},
		"SPA missing":       {poxSettings("<SPA>off</SPA><SSL>on</SSL><Encryption>SSL</Encryption>", "<SSL>on</SSL><Encryption>SSL</Encryption>"), "SPA"},
		"SPA on":            {poxSettings("<SPA>off</SPA><SSL>on</SSL><Encryption>SSL</Encryption>", "<SPA>on</SPA><SSL>on</SSL><Encryption>SSL</Encryption>"), "SPA"},
		"two accounts":      {poxSettings("</Account>", "</Account><Account><AccountType>email</AccountType></Account>"), "exactly 1"},
		"redirect":          {poxSettings("<Action>settings</Action>", "<Action>redirectUrl</Action>"), "redirect"},
		"root namespace":    {poxSettings(`<Autodiscover xmlns="`+NSResponseBase, `<Autodiscover xmlns="`+NSResponseOutlook), "root"},
		"element elsewhere": {poxSettings("<User>", `<User xmlns="urn:x">`), "not 2006a"},
		"no port":           {poxSettings("<Port>993</Port>", ""), "Port"},
		"bad encryption":    {poxSettings("<Encryption>SSL</Encryption>", "<Encryption>TLS1.2</Encryption>"), "Encryption"},
		"bad time":          {[]byte(strings.Replace(string(poxError(NSResponseBase, "600")), "21:25:04.8897083", "2025-11-26T21:25:04Z", 1)), "Time"},
		"no debugdata":      {[]byte(strings.Replace(string(poxError(NSResponseBase, "600")), "<DebugData />", "", 1)), "DebugData"},
		"not XML":           {[]byte("<html>"), "malformed"},
	} {
		if _, err := ParsePOX(tc.body); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
	if !strings.Contains(OutlookRequest(`a&b@example.com`), `<EMailAddress>a&amp;b@example.com</EMailAddress>`) {
		t.Errorf("request does not escape the address: %s", OutlookRequest(`a&b@example.com`))
	}
}

func TestParseAutodiscoverJSON(t *testing.T) {
	a, err := ParseAutodiscoverJSON(200, "application/json", []byte(`{"Protocol":"AutodiscoverV1","Url":"https://autodiscover.example.com/autodiscover/autodiscover.xml"}`))
	if err != nil || a.URL != "https://autodiscover.example.com/autodiscover/autodiscover.xml" {
		t.Fatalf("%+v %v", a, err)
	}
	if e, err := ParseAutodiscoverJSON(404, "application/json; charset=utf-8", []byte(`{"ErrorCode":"UnknownDomain","ErrorMessage":"m"}`)); err != nil || e.ErrorCode != "UnknownDomain" {
		t.Errorf("error answer: %+v %v", e, err)
	}
	for _, tc := range []struct {
		status int
		ct     string
		body   string
		want   string
	}{
		{200, "text/html", `{}`, "Content-Type"},
		{200, "application/json", `{"Protocol":"AutodiscoverV1","Url":"http://x.example/a"}`, "https"},
		{200, "application/json", `{"Protocol":"Ews","Url":"https://x.example/a"}`, "Protocol"},
		{200, "application/json", `[`, "JSON"},
		{400, "application/json", `{}`, "ErrorCode"},
	} {
		if _, err := ParseAutodiscoverJSON(tc.status, tc.ct, []byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d %s %s: %v, want an error naming %q", tc.status, tc.ct, tc.body, err, tc.want)
		}
	}
}

const profileXML = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string><key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>com.example.mail</string><key>PayloadUUID</key><string>U1</string>
<key>PayloadContent</key><array><dict>
<key>PayloadType</key><string>com.apple.mail.managed</string><key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>com.example.mail.m</string><key>PayloadUUID</key><string>U2</string>
<key>EmailAccountType</key><string>EmailTypeIMAP</string><key>EmailAddress</key><string>a@example.com</string>
<key>IncomingMailServerHostName</key><string>imap.example.com</string><key>IncomingMailServerPortNumber</key><integer>993</integer>
<key>IncomingMailServerUseSSL</key><true/><key>IncomingMailServerAuthentication</key><string>EmailAuthPassword</string>
<key>OutgoingMailServerHostName</key><string>smtp.example.com</string>
<key>OutgoingMailServerUseSSL</key><true/><key>OutgoingMailServerAuthentication</key><string>EmailAuthPassword</string>
</dict></array></dict></plist>`

func TestParseProfile(t *testing.T) {
	p, err := ParseProfile([]byte(profileXML))
	if err != nil {
		t.Fatal(err)
	}
	if p.Signed || p.EmailAddress != "a@example.com" || p.Incoming.String() != "IMAP imap.example.com:993 SSL or STARTTLS" || p.Outgoing.Port != 465 {
		t.Errorf("%+v", p)
	}
	for _, tc := range []struct{ from, to, want string }{
		{"EmailTypeIMAP", "EmailTypeExchange", "EmailAccountType"},
		{"<key>OutgoingMailServerHostName</key><string>smtp.example.com</string>", "", "host name"},
		{"<string>Configuration</string>", "<string>Other</string>", "Configuration"},
		{"EmailAuthPassword</string>\n<key>Outgoing", "EmailAuthOAuth</string>\n<key>Outgoing", "authentication"},
		{"com.apple.mail.managed", "com.apple.webcontent-filter", "no com.apple.mail.managed"},
		{"com.apple.mail.managed", "com.apple.caldav.account", "CalDAV payload: HostName"},
	} {
		if _, err := ParseProfile([]byte(strings.Replace(profileXML, tc.from, tc.to, 1))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: %v, want an error naming %q", tc.from, tc.to, err, tc.want)
		}
	}
	if _, err := ParseProfile([]byte{0x30, 0x80, 0x01}); err == nil {
		t.Error("garbage read as a signed profile")
	}
}

// extrasDoc is a document with calendar, address book and OAuth2 sections; replace
// pairs edit it.
func extrasDoc(replace ...string) []byte {
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.com">
    <domain>example.com</domain>
  </emailProvider>
  <addressbook type="carddav">
    <url>https://dav.example.com/dav/</url>
    <authentication system="http">Basic</authentication>
    <username>%EMAILADDRESS%</username>
  </addressbook>
  <calendar type="caldav">
    <url>https://dav.example.com/dav/</url>
    <authentication>OAuth2</authentication>
    <authentication system="http">Basic</authentication>
    <username>%EMAILADDRESS%</username>
  </calendar>
  <oAuth2>
    <issuer>login.example.com</issuer>
    <scope>IMAP SMTP CalDAV CardDAV</scope>
    <authURL>https://login.example.com/auth</authURL>
    <tokenURL>https://login.example.com/token</tokenURL>
  </oAuth2>
</clientConfig>
`
	return []byte(strings.NewReplacer(replace...).Replace(doc))
}

func TestAutoconfigExtras(t *testing.T) {
	for _, tc := range []struct {
		name string
		body []byte
		want string // "" accepts, else a part of the reason
	}{
		{name: "good", body: extrasDoc()},
		{name: "inside emailProvider", body: extrasDoc("</emailProvider>\n  <addressbook", "<addressbook", "</addressbook>", "</addressbook></emailProvider>"), want: "inside <emailProvider>"},
		{name: "addressBook spelling", body: extrasDoc("addressbook", "addressBook"), want: "<addressbook>"},
		{name: "wrong type", body: extrasDoc(`type="caldav"`, `type="carddav"`), want: `type "carddav"`},
		{name: "two urls", body: extrasDoc("<url>https://dav.example.com/dav/</url>\n    <authentication>OAuth2", "<url>https://a.example/</url><url>https://b.example/</url>\n    <authentication>OAuth2"), want: "2 <url>"},
		{name: "relative url", body: extrasDoc("<url>https://dav.example.com/dav/</url>\n    <authentication system", "<url>/dav/</url>\n    <authentication system"), want: "absolute"},
		{name: "bearer", body: extrasDoc(`<authentication>OAuth2</authentication>`, `<authentication system="http">Bearer</authentication>`), want: "Bearer"},
		{name: "basic without system", body: extrasDoc(`<authentication system="http">Basic</authentication>
    <username>%EMAILADDRESS%</username>
  </addressbook>`, `<authentication>Basic</authentication>
    <username>%EMAILADDRESS%</username>
  </addressbook>`), want: "Basic"},
		{name: "no username", body: extrasDoc("<username>%EMAILADDRESS%</username>\n  </calendar>", "</calendar>"), want: "no username"},
		{name: "padded url", body: extrasDoc("<url>https://dav.example.com/dav/</url>\n    <authentication system", "<url> https://dav.example.com/dav/</url>\n    <authentication system"), want: "surrounding space"},
		{name: "http token endpoint", body: extrasDoc("https://login.example.com/token", "http://login.example.com/token"), want: "https"},
		{name: "no scope", body: extrasDoc("<scope>IMAP SMTP CalDAV CardDAV</scope>", ""), want: "no scope"},
		{name: "two oAuth2", body: extrasDoc("</clientConfig>", "<oAuth2/></clientConfig>"), want: "second <oAuth2>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, err := AutoconfigExtras(tc.body)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%v, want a rejection naming %q", err, tc.want)
			case tc.want == "" && (len(ex.Services) != 2 || ex.OAuth2 == nil || ex.Services[1].Auth[0] != "OAuth2"):
				t.Fatalf("read %+v", ex)
			}
		})
	}
}
