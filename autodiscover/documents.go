package autodiscover

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"strconv"
	"time"

	"github.com/beevik/etree"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/parallel"
)

// documents are the answers prepared for one catalog. They are immutable.
type documents struct {
	cat *mailconf.Catalog
	// success is the 2006a settings document of each provider (past the first
	// parallel.Eager, prepared on first use).
	success map[*mailconf.Provider]*parallel.Lazy[template]
	// v2 is the Autodiscover V2 answer when autodiscover.url is set; without it the
	// answer names autodiscover.<domain> and is v2Prefix, the domain, v2Suffix.
	v2, v2Prefix, v2Suffix []byte
	// url is autodiscover.url, "" when not configured; urlHost and urlPath are its host
	// and path.
	url     string
	urlHost mailconf.Domain
	urlPath string
	// imapForMobilesync answers mobilesync requests with the 2006a settings.
	imapForMobilesync bool

	// Error documents (MS-OXDSCLI error codes), in the base namespace unless noted.
	invalidRequest    template // 600
	postRequired      template // 600, for GET without autodiscover.url
	addressNotFound   template // 500
	schemaUnavailable template // 601
	mobilesync601     template // 601 in the mobilesync response namespace
}

// Error codes and messages (MS-OXDSCLI; the 500 text is Exchange's, which
// exchangelib maps to ErrorNonExistentMailbox).
const (
	codeNotFound       = "500"
	codeInvalidRequest = "600"
	codeNoProvider     = "601"

	msgNotFound       = "The email address can't be found."
	msgInvalidRequest = "Invalid Request"
	msgPostRequired   = "Invalid Request: send the Autodiscover request with POST"
	msgNoProvider     = "Provider is not available"
)

// prepare builds every document served for cat.
func prepare(cat *mailconf.Catalog) (*documents, error) {
	if cat == nil {
		return nil, fmt.Errorf("%w: no catalog", ErrPrepare)
	}
	d := &documents{
		cat:               cat,
		success:           make(map[*mailconf.Provider]*parallel.Lazy[template], len(cat.Providers)),
		imapForMobilesync: cat.Autodiscover.MobilesyncAnswer == "imap",
	}
	if u := cat.Autodiscover.URL; u != nil {
		d.url, d.urlHost, d.urlPath = u.String(), cat.Autodiscover.Host, u.Path
	}
	success, err := parallel.Prepare(len(cat.Providers), func(i int) (template, error) {
		p := cat.Providers[i]
		t, err := settingsDocument(p, cat.Autodiscover.TTL)
		if err != nil {
			return t, fmt.Errorf("%w: provider %s: %w", ErrPrepare, p.ID, err)
		}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	for i, p := range cat.Providers {
		d.success[p] = success[i]
	}
	// Only configured, normalized domains fill in the URL: never the request's text or
	// Host header (ProxyShell, CVE-2021-34473). A domain is letters, digits, hyphens
	// and dots, which JSON writes as they are.
	if d.url != "" {
		b, err := json.Marshal(v2Answer{Protocol: "AutodiscoverV1", URL: d.url})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPrepare, err)
		}
		d.v2 = b
	} else {
		const domain = "example.invalid"
		b, err := json.Marshal(v2Answer{Protocol: "AutodiscoverV1", URL: "https://" + mailconf.AutodiscoverPrefix + domain + PathXML})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrPrepare, err)
		}
		pre, suf, _ := bytes.Cut(b, []byte(domain))
		d.v2Prefix, d.v2Suffix = pre, suf
	}
	for _, e := range []struct {
		t             *template
		ns, code, msg string
	}{
		{&d.invalidRequest, nsResponseBase, codeInvalidRequest, msgInvalidRequest},
		{&d.postRequired, nsResponseBase, codeInvalidRequest, msgPostRequired},
		{&d.addressNotFound, nsResponseBase, codeNotFound, msgNotFound},
		{&d.schemaUnavailable, nsResponseBase, codeNoProvider, msgNoProvider},
		{&d.mobilesync601, nsResponseMobilesync, codeNoProvider, msgNoProvider},
	} {
		if *e.t, err = errorDocument(e.ns, e.code, e.msg); err != nil {
			return nil, fmt.Errorf("%w: error %s: %w", ErrPrepare, e.code, err)
		}
	}
	return d, nil
}

// v2For returns the V2 answer for a served domain.
func (d *documents) v2For(dom mailconf.Domain) []byte {
	if d.v2 != nil {
		return d.v2
	}
	b := make([]byte, 0, len(d.v2Prefix)+len(dom.String())+len(d.v2Suffix))
	b = append(b, d.v2Prefix...)
	b = append(b, dom.String()...)
	return append(b, d.v2Suffix...)
}

// v2Answer is the Autodiscover V2 success answer (modelled on Exchange Online's).
type v2Answer struct {
	Protocol string `json:"Protocol"`
	URL      string `json:"Url"`
}

// slot is a request-dependent part of a prepared document.
type slot uint8

const (
	slotNone      slot = iota
	slotAddress        // local@domain, XML-escaped
	slotLocalPart      // the local part, XML-escaped
	slotDomain         // the domain, XML-escaped
	slotTime           // hh:mm:ss.fffffff, UTC
	slotID             // the server Id
)

// markers stand for slots while a document is built with etree; they are private-use
// characters that etree writes unchanged and that no slot-free text is expected to hold.
var markers = map[slot]string{
	slotAddress:   "\ue000address\ue000",
	slotLocalPart: "\ue000localpart\ue000",
	slotDomain:    "\ue000domain\ue000",
	slotTime:      "\ue000time\ue000",
	slotID:        "\ue000id\ue000",
}

// segment is serialized XML followed by one slot (or none).
type segment struct {
	text []byte
	slot slot
}

// template is a serialized document cut at its slots.
type template []segment

// fill holds what a template's slots are filled with.
type fill struct {
	addr mailconf.Address
	time time.Time
	id   uint32
}

// render appends the document to s.out, XML-escaping the address parts.
func (t template) render(s *scratch, f *fill) {
	for _, seg := range t {
		s.out = append(s.out, seg.text...)
		switch seg.slot {
		case slotAddress:
			s.escape(f.addr.LocalPart)
			s.out = append(s.out, '@')
			s.escape(f.addr.Domain.String())
		case slotLocalPart:
			s.escape(f.addr.LocalPart)
		case slotDomain:
			s.escape(f.addr.Domain.String())
		case slotTime:
			// MS-ASCMD §2.2.3.63: Time is hh:mm:ss[.fraction]; Exchange writes seven digits.
			s.out = f.time.UTC().AppendFormat(s.out, "15:04:05.0000000")
		case slotID:
			s.out = strconv.AppendUint(s.out, uint64(f.id), 10)
		}
	}
}

// scratch is the per-request memory, pooled by the Handler.
type scratch struct {
	body []byte // POST body, capacity MaxBodySize+1
	out  []byte // response document
	tmp  []byte // text being escaped
}

// Write appends p to the response document; xml.EscapeText writes through it.
func (s *scratch) Write(p []byte) (int, error) {
	s.out = append(s.out, p...)
	return len(p), nil
}

// escape appends text XML-escaped with encoding/xml, which also replaces characters
// XML cannot carry with U+FFFD.
func (s *scratch) escape(text string) {
	s.tmp = append(s.tmp[:0], text...)
	_ = xml.EscapeText(s, s.tmp) // s.Write never fails
}

// cut serializes doc and cuts it at the markers, checking that each appears exactly
// as often as expected.
func cut(doc *etree.Document, want map[slot]int) (template, error) {
	doc.Indent(2)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, err
	}
	for sl, m := range markers {
		if got := bytes.Count(b, []byte(m)); got != want[sl] {
			return nil, fmt.Errorf("marker for slot %d appears %d times, want %d (a configured text contains it?)", sl, got, want[sl])
		}
	}
	var t template
	for len(b) > 0 {
		at, which := len(b), slotNone
		for sl, m := range markers {
			if i := bytes.Index(b, []byte(m)); i >= 0 && i < at {
				at, which = i, sl
			}
		}
		t = append(t, segment{text: bytes.Clone(b[:at]), slot: which})
		if which == slotNone {
			break
		}
		b = b[at+len(markers[which]):]
	}
	return t, nil
}

// newResponseDocument starts a document with the XML declaration and the base-namespace
// Autodiscover root, holding a Response element in namespace ns.
func newResponseDocument(ns string) (*etree.Document, *etree.Element) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="utf-8"`)
	root := doc.CreateElement("Autodiscover")
	root.CreateAttr("xmlns", nsResponseBase)
	resp := root.CreateElement("Response")
	resp.CreateAttr("xmlns", ns)
	return doc, resp
}

// errorDocument prepares an error document. Its Response is in ns: the base namespace
// for Outlook (exchangelib's ErrorResponse looks for it there, and an error in 2006a
// reads as an empty success), the mobilesync response namespace for mobilesync.
func errorDocument(ns, code, message string) (template, error) {
	doc, resp := newResponseDocument(ns)
	e := resp.CreateElement("Error")
	e.CreateAttr("Time", markers[slotTime])
	e.CreateAttr("Id", markers[slotID])
	e.CreateElement("ErrorCode").SetText(code)
	e.CreateElement("Message").SetText(message)
	e.CreateElement("DebugData")
	return cut(doc, map[slot]int{slotTime: 1, slotID: 1})
}

// settingsDocument prepares a provider's 2006a settings document: one Account with one
// Protocol per server, incoming servers first, each list in preference order.
func settingsDocument(p *mailconf.Provider, ttl int) (template, error) {
	doc, resp := newResponseDocument(nsResponseOutlook)
	want := map[slot]int{slotAddress: 1}
	// User/DisplayName: we know no name, so the address stands in for it.
	resp.CreateElement("User").CreateElement("DisplayName").SetText(markers[slotAddress])
	acct := resp.CreateElement("Account")
	acct.CreateElement("AccountType").SetText("email")
	acct.CreateElement("Action").SetText("settings")
	if len(p.Incoming) == 0 || len(p.Outgoing) == 0 {
		return nil, fmt.Errorf("provider lists no incoming or no outgoing server")
	}
	for s := range p.Servers() {
		pr := acct.CreateElement("Protocol")
		typ, err := protocolType(s.Type)
		if err != nil {
			return nil, err
		}
		pr.CreateElement("Type").SetText(typ)
		if s.Hostname.PerDomain() {
			// Filled in per request with the address's domain, like the login name.
			pr.CreateElement("Server").SetText(s.Hostname.Prefix() + markers[slotDomain])
			want[slotDomain]++
		} else {
			pr.CreateElement("Server").SetText(s.Hostname.String())
		}
		pr.CreateElement("Port").SetText(strconv.Itoa(s.Port))
		pr.CreateElement("DomainRequired").SetText("off")
		login, sl := loginName(s.Username)
		pr.CreateElement("LoginName").SetText(login)
		if sl != slotNone {
			want[sl]++
		}
		// SPA defaults to on (MS-OXDSCLI; exchangelib OnOffField('spa', default=True)):
		// without an explicit off, Outlook ticks "Secure Password Authentication" and
		// fails against servers that do not speak NTLM (Modoboa #1869).
		pr.CreateElement("SPA").SetText("off")
		ssl, enc, err := encryption(s.Socket)
		if err != nil {
			return nil, err
		}
		// Thunderbird reads SSL off or Encryption None as plain, and otherwise picks
		// STARTTLS or implicit TLS by port (ExchangeAutoDiscover.sys.mjs readAutoDiscoverXML).
		pr.CreateElement("SSL").SetText(ssl)
		pr.CreateElement("Encryption").SetText(enc)
		auth := authRequired(s.Authentication.First())
		pr.CreateElement("AuthRequired").SetText(onOff(auth))
		if s.Type == mailconf.TypeSMTP {
			// UsePOPAuth: SMTP logs in with the incoming server's credentials, true when
			// both need a login under the same name.
			same := auth && authRequired(p.Incoming[0].Authentication.First()) && s.Username == p.Incoming[0].Username
			pr.CreateElement("UsePOPAuth").SetText(onOff(same))
			pr.CreateElement("SMTPLast").SetText("off")
		}
		// TTL: hours the settings stay valid (exchangelib IntegerField('ttl', default=1)).
		pr.CreateElement("TTL").SetText(strconv.Itoa(ttl))
	}
	return cut(doc, want)
}

// protocolType maps a server type to the Protocol/Type value (MS-OXDSCLI: POP3, not POP).
func protocolType(t mailconf.ServerType) (string, error) {
	switch t {
	case mailconf.TypeIMAP:
		return "IMAP", nil
	case mailconf.TypePOP3:
		return "POP3", nil
	case mailconf.TypeSMTP:
		return "SMTP", nil
	}
	return "", fmt.Errorf("server type %q has no Autodiscover Protocol type", t)
}

// encryption maps a socket type to the SSL and Encryption values: SSL for implicit TLS,
// TLS for STARTTLS (the common reading, as automx2 and Monogramm write it), None for plain.
func encryption(s mailconf.SocketType) (ssl, enc string, err error) {
	switch s {
	case mailconf.SocketSSL:
		return "on", "SSL", nil
	case mailconf.SocketSTARTTLS:
		return "on", "TLS", nil
	case mailconf.SocketPlain:
		return "off", "None", nil
	}
	return "", "", fmt.Errorf("socket type %q unknown", s)
}

// authRequired reports whether the client must log in.
func authRequired(a mailconf.Authentication) bool {
	return a != mailconf.AuthNone && a != mailconf.AuthClientIP
}

// loginName returns the LoginName text for a username pattern: a marker for the
// placeholders (filled per request from the address), else the literal.
func loginName(pattern string) (string, slot) {
	switch pattern {
	case mailconf.PlaceholderAddress, "":
		return markers[slotAddress], slotAddress
	case mailconf.PlaceholderLocalPart:
		return markers[slotLocalPart], slotLocalPart
	case mailconf.PlaceholderDomain:
		return markers[slotDomain], slotDomain
	}
	return pattern, slotNone
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
