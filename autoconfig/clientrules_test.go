package autoconfig

// Test parsers that read an autoconfig document the way the strictest real clients do,
// so golden files and live responses are checked against their rules, not ours.
// Rules: docs/clients.md, "What clients reject" (from thunderbird-android
// RealAutoconfigParser.kt and comm-central readFromXML.sys.mjs).

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// xmlNode is a minimal DOM: enough to apply client rules.
type xmlNode struct {
	name     string
	attrs    map[string]string
	children []*xmlNode
	text     string
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

func (n *xmlNode) first(name string) *xmlNode {
	if all := n.all(name); len(all) > 0 {
		return all[0]
	}
	return nil
}

// parseDOM parses body strictly: well-formed, no DOCTYPE, UTF-8, nothing before the
// declaration.
func parseDOM(body []byte) (*xmlNode, error) {
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		return nil, errors.New("body starts with a BOM (ISPDB CI rejects it)")
	}
	if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
		return nil, errors.New("body does not start with the UTF-8 XML declaration")
	}
	if !utf8.Valid(body) {
		return nil, errors.New("body is not UTF-8 (K-9 reads it as UTF-8 whatever the declaration says)")
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	var root *xmlNode
	var stack []*xmlNode
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xmlNode{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("two root elements")
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
			return nil, errors.New("DOCTYPE or other directive present")
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// clientServer is a server as a client ends up using it.
type clientServer struct {
	Type, Hostname, SocketType, Username, Auth string
	Port                                       int
}

// clientConfig is what a client took from a document.
type clientConfig struct {
	ID, DisplayName string
	Domains         []string
	Incoming        []clientServer // first is what the client uses
	Outgoing        []clientServer
}

// validHostname is the check both clients apply to emailProvider@id.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// parseK9 applies Thunderbird-for-Android (K-9) rules, the strictest client: first imap
// and first smtp; POP3 ignored; only SSL/STARTTLS; any imap/smtp server with plain or
// TLS, or missing hostname, port or username, or no recognised authentication rejects
// the whole file; child elements inside a text element reject it; no imap or no smtp
// rejects it.
func parseK9(body []byte) (*clientConfig, error) {
	root, err := parseDOM(body)
	if err != nil {
		return nil, err
	}
	if root.name != "clientConfig" {
		return nil, fmt.Errorf("root is <%s>, not <clientConfig>", root.name)
	}
	ep := root.first("emailProvider")
	if ep == nil {
		return nil, errors.New("no emailProvider")
	}
	cfg := &clientConfig{ID: ep.attrs["id"]}
	if !validHostname(cfg.ID) {
		return nil, fmt.Errorf("emailProvider id %q is not a hostname", cfg.ID)
	}
	for _, d := range ep.all("domain") {
		cfg.Domains = append(cfg.Domains, d.text)
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("no <domain>")
	}
	parseServer := func(n *xmlNode) (clientServer, error) {
		s := clientServer{Type: n.attrs["type"]}
		for _, c := range n.children {
			if len(c.children) > 0 {
				return s, fmt.Errorf("element <%s> inside text element <%s>", c.children[0].name, c.name)
			}
		}
		host, port, user := n.first("hostname"), n.first("port"), n.first("username")
		if host == nil || port == nil || user == nil {
			return s, fmt.Errorf("%s server misses hostname, port or username", s.Type)
		}
		if strings.TrimSpace(host.text) != host.text || host.text == "" {
			return s, fmt.Errorf("hostname %q has surrounding whitespace or is empty", host.text)
		}
		s.Hostname, s.Username = host.text, user.text
		p, err := strconv.Atoi(port.text)
		if err != nil || p < 1 || p > 65535 {
			return s, fmt.Errorf("port %q invalid", port.text)
		}
		s.Port = p
		st := n.first("socketType")
		if st == nil {
			return s, errors.New("no socketType")
		}
		switch st.text {
		case "SSL", "STARTTLS":
			s.SocketType = st.text
		default:
			return s, fmt.Errorf("socketType %q is not SSL or STARTTLS", st.text)
		}
		for _, a := range n.all("authentication") {
			switch a.text {
			case "password-cleartext", "password-encrypted", "OAuth2":
				if s.Auth == "" {
					s.Auth = a.text
				}
			}
		}
		if s.Auth == "" {
			return s, errors.New("no recognised authentication")
		}
		return s, nil
	}
	for _, n := range ep.all("incomingServer") {
		if n.attrs["type"] != "imap" {
			continue // K-9 ignores POP3
		}
		s, err := parseServer(n)
		if err != nil {
			return nil, err
		}
		cfg.Incoming = append(cfg.Incoming, s)
	}
	for _, n := range ep.all("outgoingServer") {
		if n.attrs["type"] != "smtp" {
			continue
		}
		s, err := parseServer(n)
		if err != nil {
			return nil, err
		}
		cfg.Outgoing = append(cfg.Outgoing, s)
	}
	if len(cfg.Incoming) == 0 {
		return nil, errors.New("no imap server (K-9 ignores POP3)")
	}
	if len(cfg.Outgoing) == 0 {
		return nil, errors.New("no smtp server")
	}
	return cfg, nil
}

// tbAuth are the authentication values Thunderbird desktop accepts (readFromXML).
var tbAuth = map[string]bool{
	"password-cleartext": true, "plain": true, "password-encrypted": true, "secure": true,
	"GSSAPI": true, "NTLM": true, "TLS-client-cert": true, "client-IP-address": true,
	"none": true, "OAuth2": true, "smtp-after-pop": true,
}

// parseThunderbird applies Thunderbird desktop rules: Content-Type must start with
// text/xml, application/xml or text/rdf; only the first emailProvider is read; id and a
// domain are required; text is not trimmed, socketType is exact-case; the first valid
// server per direction wins; a usable incoming and a usable smtp server are required.
func parseThunderbird(body []byte, contentType string) (*clientConfig, error) {
	// FetchHTTP.sys.mjs: other types make the source fail.
	if !strings.HasPrefix(contentType, "text/xml") && !strings.HasPrefix(contentType, "application/xml") && !strings.HasPrefix(contentType, "text/rdf") {
		return nil, fmt.Errorf("Content-Type %q is not XML", contentType)
	}
	root, err := parseDOM(body)
	if err != nil {
		return nil, err
	}
	if root.name != "clientConfig" {
		return nil, fmt.Errorf("root is <%s>", root.name)
	}
	ep := root.first("emailProvider")
	if ep == nil {
		return nil, errors.New("no emailProvider")
	}
	cfg := &clientConfig{ID: ep.attrs["id"]}
	if !validHostname(cfg.ID) {
		return nil, fmt.Errorf("emailProvider id %q invalid", cfg.ID)
	}
	for _, d := range ep.all("domain") {
		if len(d.attrs) == 0 && validHostname(d.text) { // JXON skips a domain with attributes
			cfg.Domains = append(cfg.Domains, d.text)
		}
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("no valid <domain>")
	}
	if dn := ep.first("displayName"); dn == nil || dn.text == "" {
		return nil, errors.New(`no displayName: Thunderbird would name the account "undefined"`)
	} else {
		cfg.DisplayName = dn.text
	}
	parseServer := func(n *xmlNode) (clientServer, bool) {
		s := clientServer{Type: n.attrs["type"]}
		host, port, st, user := n.first("hostname"), n.first("port"), n.first("socketType"), n.first("username")
		if host == nil || port == nil || st == nil || host.text == "" {
			return s, false
		}
		switch st.text { // exact case, not trimmed
		case "SSL", "STARTTLS", "plain":
		default:
			return s, false
		}
		p, err := strconv.Atoi(port.text)
		if err != nil || p < 1 || p > 65535 {
			return s, false
		}
		s.Hostname, s.Port, s.SocketType = host.text, p, st.text
		if user != nil {
			s.Username = user.text
		}
		for _, a := range n.all("authentication") {
			if tbAuth[a.text] {
				s.Auth = a.text
				break
			}
		}
		return s, s.Auth != ""
	}
	for _, n := range ep.all("incomingServer") {
		if t := n.attrs["type"]; t != "imap" && t != "pop3" {
			continue
		}
		if s, ok := parseServer(n); ok {
			cfg.Incoming = append(cfg.Incoming, s)
		}
	}
	for _, n := range ep.all("outgoingServer") {
		if n.attrs["type"] != "smtp" {
			continue
		}
		if s, ok := parseServer(n); ok {
			cfg.Outgoing = append(cfg.Outgoing, s)
		}
	}
	if len(cfg.Incoming) == 0 {
		return nil, errors.New("no usable incoming server")
	}
	if len(cfg.Outgoing) == 0 {
		return nil, errors.New("no usable smtp server")
	}
	return cfg, nil
}

// checkCommonRules applies what the lenient-but-literal clients need: values without
// surrounding whitespace (Thunderbird does not trim), placeholders only as the whole
// username (GOA, FairEmail, EmailEngine), no password, webMail or
// useGlobalPreferredServer elements.
func checkCommonRules(body []byte) error {
	root, err := parseDOM(body)
	if err != nil {
		return err
	}
	var walk func(n *xmlNode) error
	walk = func(n *xmlNode) error {
		switch n.name {
		case "password", "webMail", "useGlobalPreferredServer":
			return fmt.Errorf("<%s> must not be emitted", n.name)
		}
		if len(n.children) == 0 && strings.TrimSpace(n.text) != n.text {
			return fmt.Errorf("<%s> value %q has surrounding whitespace", n.name, n.text)
		}
		if n.name == "username" && strings.Contains(n.text, "%") {
			switch n.text {
			case "%EMAILADDRESS%", "%EMAILLOCALPART%", "%EMAILDOMAIN%":
			default:
				return fmt.Errorf("username %q mixes a placeholder with text", n.text)
			}
		}
		if n.name == "hostname" && strings.Contains(n.text, "%") {
			return fmt.Errorf("hostname %q holds a placeholder", n.text)
		}
		if (n.name == "incomingServer" || n.name == "outgoingServer") && n.first("enable") != nil {
			// Thunderbird for Android rejects elements it does not know inside a server.
			return fmt.Errorf("<enable> inside <%s>", n.name)
		}
		for _, c := range n.children {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}
