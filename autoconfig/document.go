// Package autoconfig serves Mozilla autoconfig (config-v1.1.xml) documents, the format
// Thunderbird and most open-source mail clients fetch.
package autoconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/beevik/etree"
	"github.com/mailconf/mailconf"
)

// Render builds the autoconfig document for a provider. The document is the same for
// every address of the provider: placeholders in usernames are left for the client
// to substitute.
//
// The shape follows the serving rules in docs/clients.md: one emailProvider with a
// hostname id, every domain, both names, the servers in preference order, where to
// enable access, and documentation links.
func Render(p *mailconf.Provider) ([]byte, error) {
	doc := etree.NewDocument()
	// UTF-8 without a BOM, nothing before the declaration (ISPDB CI; draft §"MIME type").
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("clientConfig")
	root.CreateAttr("version", "1.1")
	ep := root.CreateElement("emailProvider")
	// Thunderbird and K-9 reject a file whose emailProvider has no valid hostname id.
	ep.CreateAttr("id", p.ID.String())
	for _, d := range p.Domains {
		ep.CreateElement("domain").SetText(d.String())
	}
	// Without displayName Thunderbird names the account "undefined".
	ep.CreateElement("displayName").SetText(p.DisplayName.Default())
	ep.CreateElement("displayShortName").SetText(p.ShortName.Default())
	for i := range p.Incoming {
		writeServer(ep.CreateElement("incomingServer"), &p.Incoming[i])
	}
	for i := range p.Outgoing {
		writeServer(ep.CreateElement("outgoingServer"), &p.Outgoing[i])
	}
	if p.EnableURL != nil {
		// Mozilla's format for "first allow mail apps there"; Thunderbird ignores it,
		// Thunderbird for Android skips it, FairEmail shows the link and the instructions
		// (EmailProvider.java). The default language comes first: FairEmail joins them.
		en := ep.CreateElement("enable")
		en.CreateAttr("visiturl", p.EnableURL.String())
		for _, t := range p.Instructions {
			in := en.CreateElement("instruction")
			if t.Lang != "" {
				in.CreateAttr("lang", t.Lang)
			}
			in.SetText(t.Value)
		}
	}
	for _, d := range p.Documentation {
		de := ep.CreateElement("documentation")
		de.CreateAttr("url", d.URL.String())
		for _, t := range d.Description {
			descr := de.CreateElement("descr")
			if t.Lang != "" {
				descr.CreateAttr("lang", t.Lang)
			}
			descr.SetText(t.Value)
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
func writeServer(e *etree.Element, s *mailconf.Server) {
	e.CreateAttr("type", string(s.Type))
	e.CreateElement("hostname").SetText(s.Hostname.String())
	e.CreateElement("port").SetText(strconv.Itoa(s.Port))
	e.CreateElement("socketType").SetText(string(s.Socket))
	e.CreateElement("authentication").SetText(string(s.Authentication))
	e.CreateElement("username").SetText(s.Username)
}

// document is a prepared response: the body and the headers derived from it.
type document struct {
	body          []byte
	etag          string   // quoted strong validator
	etagHeader    []string // ready to put into a header map
	contentLength []string
	providerID    mailconf.Domain
}

func newDocument(p *mailconf.Provider) (*document, error) {
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

// headerValue returns a header value slice whose capacity equals its length, so a
// later Header().Add copies it instead of writing into the shared array.
func headerValue(v string) []string {
	return []string{v}[:1:1]
}
