package mailconf

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ispdbEntries reads the ISPDB file at file, or every *.xml file of the directory, as
// providers; path is the configuration field that names them.
func (v *validator) ispdbEntries(path, file string) []entry {
	st, err := os.Stat(file)
	if err != nil {
		v.add(path, "%v", err)
		return nil
	}
	files := []string{file}
	if st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(file, "*.xml"))
		slices.Sort(files)
		if len(files) == 0 {
			v.warn(path, "%s holds no .xml file", file)
		}
	}
	var out []entry
	for _, f := range files {
		sub := newValidator(f)
		sub.lines = map[string]int{}
		v.subs = append(v.subs, sub)
		data, err := ReadFile(f)
		if err != nil {
			v.add(path, "%v", err)
			continue
		}
		p, err := sub.readISPDB(data)
		if err != nil {
			sub.add("", "%v", err)
			continue
		}
		out = append(out, entry{p: &p, v: sub, path: "", name: f})
	}
	return out
}

// xmlNode is an element of an ISPDB file with the line it starts on.
type xmlNode struct {
	name     string
	attrs    map[string]string
	text     string
	line     int
	children []*xmlNode
}

func (n *xmlNode) all(name string) []*xmlNode {
	var out []*xmlNode
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// maxISPDBDepth bounds the nesting of an ISPDB file (its own is four deep).
const maxISPDBDepth = 16

// parseXML reads an XML document into nodes with their lines. It refuses a DOCTYPE
// (and so any entity declaration).
func parseXML(data []byte) (*xmlNode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var stack []*xmlNode
	var root *xmlNode
	for {
		line, _ := d.InputPos()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxISPDBDepth {
				return nil, errors.New("elements nested too deep")
			}
			n := &xmlNode{name: t.Name.Local, attrs: map[string]string{}, line: line}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("more than one root element")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		case xml.Directive:
			return nil, errors.New("a DOCTYPE or other declaration is not accepted")
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// readISPDB turns a Mozilla ISPDB document (the autoconfig format) into a provider.
// What mailconf does not model is reported as a warning with its line, never dropped
// silently; what it cannot serve at all (no emailProvider) is an error.
func (v *validator) readISPDB(data []byte) (Provider, error) {
	var p Provider
	root, err := parseXML(data)
	if err != nil {
		return p, err
	}
	if root.name != "clientConfig" {
		return p, fmt.Errorf("the root element is <%s>, not <clientConfig>", root.name)
	}
	eps := root.all("emailProvider")
	if len(eps) == 0 {
		return p, errors.New("no <emailProvider>")
	}
	dropped := func(n *xmlNode, where string) {
		v.problems = append(v.problems, Problem{File: v.file, Line: n.line, Warning: true,
			Message: fmt.Sprintf("<%s> in %s is not modelled by mailconf and is not served", n.name, where)})
	}
	for _, c := range root.children {
		switch c.name {
		case "emailProvider":
		case "oAuth2":
			p.OAuth2 = v.ispdbOAuth2(c, dropped)
		default:
			dropped(c, "<clientConfig>")
		}
	}
	for _, extra := range eps[1:] {
		v.problems = append(v.problems, Problem{File: v.file, Line: extra.line, Warning: true,
			Message: "a second <emailProvider> is not read (clients read only the first)"})
	}
	ep := eps[0]
	v.lines[""] = ep.line
	text := func(n *xmlNode) string { return strings.TrimSpace(n.text) }
	setDomain := func(field string, n *xmlNode, s string, to *Domain) {
		v.lines[field] = n.line
		if err := to.UnmarshalText([]byte(s)); err != nil {
			v.add(field, "%v", err)
		}
	}
	setDomain("id", ep, ep.attrs["id"], &p.ID)
	nIn, nOut := 0, 0
	for _, c := range ep.children {
		switch c.name {
		case "domain":
			if c.attrs["purpose"] != "" && c.attrs["purpose"] != "mx" {
				dropped(c, "<emailProvider> (purpose "+c.attrs["purpose"]+")")
				continue
			}
			var d Domain
			setDomain(fmt.Sprintf("domains[%d]", len(p.Domains)), c, text(c), &d)
			p.Domains = append(p.Domains, d)
		case "displayName":
			p.DisplayName = append(p.DisplayName, Text{Lang: c.attrs["lang"], Value: text(c)})
			v.lines["display_name"] = c.line
		case "displayShortName":
			p.ShortName = append(p.ShortName, Text{Lang: c.attrs["lang"], Value: text(c)})
			v.lines["short_name"] = c.line
		case "incomingServer", "outgoingServer":
			field, list := "incoming", &p.Incoming
			n := &nIn
			if c.name == "outgoingServer" {
				field, list, n = "outgoing", &p.Outgoing, &nOut
			}
			switch t := ServerType(c.attrs["type"]); {
			case c.name == "incomingServer" && (t == TypeIMAP || t == TypePOP3), c.name == "outgoingServer" && t == TypeSMTP:
			default:
				dropped(c, fmt.Sprintf("<emailProvider> (type %q)", c.attrs["type"]))
				continue
			}
			path := fmt.Sprintf("%s[%d]", field, *n)
			*n++
			*list = append(*list, v.ispdbServer(c, path, dropped))
		case "enable":
			p.EnableURL = v.ispdbURL(c, "enable_url", c.attrs["visiturl"])
			for _, in := range c.all("instruction") {
				p.Instructions = append(p.Instructions, Text{Lang: in.attrs["lang"], Value: text(in)})
			}
			for _, x := range c.children {
				if x.name != "instruction" {
					dropped(x, "<enable>")
				}
			}
		case "documentation":
			doc := Documentation{}
			if u := v.ispdbURL(c, fmt.Sprintf("documentation[%d].url", len(p.Documentation)), c.attrs["url"]); u != nil {
				doc.URL = *u
			}
			for _, d := range c.all("descr") {
				doc.Description = append(doc.Description, Text{Lang: d.attrs["lang"], Value: text(d)})
			}
			p.Documentation = append(p.Documentation, doc)
		default:
			dropped(c, "<emailProvider>")
		}
	}
	// Language tags as mailconf writes them; an untagged text is the default.
	for _, l := range []*Localized{&p.DisplayName, &p.ShortName, &p.Instructions} {
		slices.SortStableFunc(*l, func(a, b Text) int { return boolCompare(a.Lang != "", b.Lang != "") })
	}
	return p, nil
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// ispdbOAuth2 reads an oAuth2 element (draft-ietf-mailmaint-autoconfig, "OAuth2").
func (v *validator) ispdbOAuth2(n *xmlNode, dropped func(*xmlNode, string)) *OAuth2Config {
	o := &OAuth2Config{}
	v.lines["oauth2"] = n.line
	for _, c := range n.children {
		text := strings.TrimSpace(c.text)
		switch c.name {
		case "issuer":
			v.lines["oauth2.issuer"] = c.line
			if err := o.Issuer.UnmarshalText([]byte(text)); err != nil {
				v.add("oauth2.issuer", "%v", err)
			}
		case "scope":
			v.lines["oauth2.scope"] = c.line
			o.Scope = text
		case "authURL":
			if u := v.ispdbURL(c, "oauth2.auth_url", text); u != nil {
				o.AuthURL = *u
			}
		case "tokenURL":
			if u := v.ispdbURL(c, "oauth2.token_url", text); u != nil {
				o.TokenURL = *u
			}
		default:
			dropped(c, "<oAuth2>")
		}
	}
	return o
}

// ispdbURL parses a URL of an ISPDB file, reporting a bad one at field.
func (v *validator) ispdbURL(n *xmlNode, field, s string) *URL {
	v.lines[field] = n.line
	var u URL
	if err := u.UnmarshalText([]byte(s)); err != nil {
		v.add(field, "%v", err)
		return nil
	}
	return &u
}

// ispdbServer reads an incomingServer or outgoingServer element.
func (v *validator) ispdbServer(n *xmlNode, path string, dropped func(*xmlNode, string)) Server {
	s := Server{Type: ServerType(n.attrs["type"])}
	v.lines[path] = n.line
	where := "<" + n.name + ">"
	for _, c := range n.children {
		text := strings.TrimSpace(c.text)
		switch c.name {
		case "hostname":
			field := join(path, "hostname")
			v.lines[field] = c.line
			if err := s.Hostname.UnmarshalText([]byte(text)); err != nil {
				v.add(field, "%v", err)
			}
		case "port":
			field := join(path, "port")
			v.lines[field] = c.line
			p, err := strconv.Atoi(text)
			if err != nil {
				v.add(field, "%q is not a port number", text)
			}
			s.Port = p
		case "socketType":
			v.lines[join(path, "socket")] = c.line
			s.Socket = SocketType(text)
		case "username":
			v.lines[join(path, "username")] = c.line
			s.Username = text
		case "authentication":
			v.lines[join(path, "authentication")] = c.line
			s.Authentication = append(s.Authentication, Authentication(text))
		default:
			dropped(c, where)
		}
	}
	return s
}
