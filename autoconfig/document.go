// Package autoconfig serves Mozilla autoconfig (config-v1.1.xml) documents, the format
// Thunderbird and most open-source mail clients fetch.
package autoconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/beevik/etree"
	"github.com/mailconf/mailconf"
)

// Render builds the autoconfig document for a provider, the same for every domain it
// serves: placeholders in usernames are left for the client to substitute. A provider
// with per-domain host names has a document per domain: see RenderFor.
//
// The shape follows the serving rules in docs/clients.md: one emailProvider with a
// hostname id, every domain, both names, the servers in preference order, where to
// enable access, and documentation links.
func Render(p *mailconf.Provider) ([]byte, error) {
	return render(p, nil)
}

// RenderFor builds the document a provider serves for one domain: that domain alone in
// <domain>, and host names filled in for it.
func RenderFor(p *mailconf.Provider, d mailconf.Domain) ([]byte, error) {
	return render(p, func(prefix string) string { return prefix + d.String() })
}

// perDomain reports whether a provider's document differs by domain: per-domain host
// names, or domains read from sources (listing those, thousands, in every document
// would help no client).
func perDomain(p *mailconf.Provider) bool {
	if len(p.DomainsFrom) > 0 {
		return true
	}
	for s := range p.Servers() {
		if s.Hostname.PerDomain() {
			return true
		}
	}
	return false
}

// render writes the document; with domain set, the document for one domain, whose name
// domain returns after a prefix ("" for the domain itself).
func render(p *mailconf.Provider, domain func(prefix string) string) ([]byte, error) {
	doc := etree.NewDocument()
	// UTF-8 without a BOM, nothing before the declaration (ISPDB CI; draft §"MIME type").
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("clientConfig")
	root.CreateAttr("version", "1.1")
	ep := root.CreateElement("emailProvider")
	// Thunderbird and K-9 reject a file whose emailProvider has no valid hostname id.
	ep.CreateAttr("id", p.ID.String())
	if domain != nil {
		ep.CreateElement("domain").SetText(domain(""))
	} else {
		for _, d := range p.Domains {
			ep.CreateElement("domain").SetText(d.String())
		}
	}
	// Without displayName Thunderbird names the account "undefined".
	ep.CreateElement("displayName").SetText(p.DisplayName.Default())
	ep.CreateElement("displayShortName").SetText(p.ShortName.Default())
	host := func(s *mailconf.Server) string {
		if s.Hostname.PerDomain() && domain != nil {
			return domain(s.Hostname.Prefix())
		}
		return s.Hostname.String()
	}
	for i := range p.Incoming {
		writeServer(ep.CreateElement("incomingServer"), &p.Incoming[i], host)
	}
	for i := range p.Outgoing {
		writeServer(ep.CreateElement("outgoingServer"), &p.Outgoing[i], host)
	}
	if p.EnableURL != nil {
		// Mozilla's format for "first allow mail apps there"; Thunderbird ignores it,
		// Thunderbird for Android skips it, FairEmail shows the link and the instructions
		// (EmailProvider.java). The default language comes first: FairEmail joins them.
		en := ep.CreateElement("enable")
		en.CreateAttr("visiturl", p.EnableURL.String())
		writeLocalized(en, "instruction", p.Instructions)
	}
	for _, d := range p.Documentation {
		de := ep.CreateElement("documentation")
		de.CreateAttr("url", d.URL.String())
		writeLocalized(de, "descr", d.Description)
	}
	// Address books, calendars and the OAuth2 server are children of clientConfig, after
	// emailProvider (draft-ietf-mailmaint-autoconfig §"Server sections", its example
	// orders them so). Thunderbird reads only emailProvider (readFromXML.sys.mjs) and
	// Thunderbird for Android skips other elements (RealAutoconfigParser), so they cost
	// those clients nothing.
	for i := range p.Contacts {
		writeDAV(root.CreateElement("addressbook"), "carddav", &p.Contacts[i])
	}
	for i := range p.Calendars {
		writeDAV(root.CreateElement("calendar"), "caldav", &p.Calendars[i])
	}
	if o := p.OAuth2; o != nil {
		oe := root.CreateElement("oAuth2")
		oe.CreateElement("issuer").SetText(o.Issuer.String())
		oe.CreateElement("scope").SetText(o.Scope)
		oe.CreateElement("authURL").SetText(o.AuthURL.String())
		oe.CreateElement("tokenURL").SetText(o.TokenURL.String())
		if o.ClientID != "" {
			oe.CreateElement("clientID").SetText(o.ClientID)
		}
	}
	doc.Indent(2)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("autoconfig: render %s: %w", p.ID, err)
	}
	return b, nil
}

// writeServer fills an incomingServer or outgoingServer element. Values are written
// exactly, without surrounding whitespace: Thunderbird does not trim them.
func writeServer(e *etree.Element, s *mailconf.Server, host func(*mailconf.Server) string) {
	e.CreateAttr("type", string(s.Type))
	e.CreateElement("hostname").SetText(host(s))
	e.CreateElement("port").SetText(strconv.Itoa(s.Port))
	e.CreateElement("socketType").SetText(string(s.Socket))
	// Several methods, most preferred first: Thunderbird and Thunderbird for Android
	// take the first they support (thunderbird-android RealAutoconfigParser).
	for _, m := range s.Authentication {
		e.CreateElement("authentication").SetText(string(m))
	}
	e.CreateElement("username").SetText(s.Username)
}

// writeLocalized writes one name element per variant of texts under parent, with a
// lang attribute where the variant has a language.
func writeLocalized(parent *etree.Element, name string, texts mailconf.Localized) {
	for _, t := range texts {
		e := parent.CreateElement(name)
		if t.Lang != "" {
			e.CreateAttr("lang", t.Lang)
		}
		e.SetText(t.Value)
	}
}

// writeDAV fills a calendar or addressbook element: a URL service with HTTP Basic
// authentication (draft-ietf-mailmaint-autoconfig §"URL-based protocols": the
// system="http" attribute names an HTTP authentication scheme).
func writeDAV(e *etree.Element, typ string, s *mailconf.DAVService) {
	e.CreateAttr("type", typ)
	e.CreateElement("url").SetText(s.URL.String())
	a := e.CreateElement("authentication")
	a.CreateAttr("system", "http")
	a.SetText("Basic")
	e.CreateElement("username").SetText(s.Username)
}

// document is a prepared response: the body and the headers derived from it, or, for
// a provider whose document differs by domain, the document cut where the domain goes.
type document struct {
	providerID mailconf.Domain

	body          []byte
	etag          string   // quoted strong validator
	etagHeader    []string // ready to put into a header map
	contentLength []string

	parts  [][]byte          // per-domain document: text between the domain's places
	digest [sha256.Size]byte // of parts, for per-domain ETags
}

// domainMarker stands for the domain while a per-domain document is rendered: a
// private-use character etree writes unchanged and no configured text holds.
const domainMarker = "\ue000"

func newDocument(p *mailconf.Provider) (*document, error) {
	if perDomain(p) {
		b, err := render(p, func(prefix string) string { return prefix + domainMarker })
		if err != nil {
			return nil, err
		}
		parts := bytes.Split(b, []byte(domainMarker))
		return &document{providerID: p.ID, parts: parts, digest: sha256.Sum256(b)}, nil
	}
	body, err := Render(p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return &document{
		body:          body,
		etag:          etag,
		etagHeader:    headerValue(etag),
		contentLength: headerValue(strconv.Itoa(len(body))),
		providerID:    p.ID,
	}, nil
}

// forDomain returns the body and ETag served for domain d.
func (doc *document) forDomain(d mailconf.Domain) (body []byte, etag string) {
	if doc.parts == nil {
		return doc.body, doc.etag
	}
	name := d.String()
	n := 0
	for _, p := range doc.parts {
		n += len(p) + len(name)
	}
	body = make([]byte, 0, n)
	for i, p := range doc.parts {
		if i > 0 {
			body = append(body, name...)
		}
		body = append(body, p...)
	}
	h := sha256.New()
	h.Write(doc.digest[:])
	h.Write([]byte(name))
	var sum [sha256.Size]byte
	return body, `"` + hex.EncodeToString(h.Sum(sum[:0])[:12]) + `"`
}

// headerValue returns a header value slice whose capacity equals its length, so a
// later Header().Add copies it instead of writing into the shared array.
func headerValue(v string) []string {
	return []string{v}[:1:1]
}
