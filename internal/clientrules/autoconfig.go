package clientrules

// Mozilla autoconfig (config-v1.1.xml), read as Thunderbird desktop
// (comm-central readFromXML.sys.mjs, FetchHTTP.sys.mjs) and Thunderbird for Android
// (thunderbird-android RealAutoconfigParser.kt) read it: docs/clients.md, "What clients
// reject". Elements these clients do not know are skipped, as they skip them.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Settings is what a client took from an autoconfig document.
type Settings struct {
	ID, DisplayName string
	Domains         []string
	Incoming        []Server // the first is what the client uses
	Outgoing        []Server
}

// parseAutoconfig returns the emailProvider of a document whose root is clientConfig.
func parseAutoconfig(body []byte) (*Node, error) {
	root, err := ParseXML(body)
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "clientConfig" {
		return nil, fmt.Errorf("root is <%s>, not <clientConfig>", root.Name.Local)
	}
	ep := root.Child("emailProvider")
	if ep == nil {
		return nil, errors.New("no emailProvider")
	}
	return ep, nil
}

// ThunderbirdAndroid applies Thunderbird-for-Android (K-9) rules, the strictest client:
// first imap and first smtp; POP3 ignored; only SSL/STARTTLS; any imap/smtp server with
// plain or TLS, or missing hostname, port or username, or no recognised authentication
// rejects the whole file; child elements inside a text element reject it; no imap or no
// smtp rejects it.
func ThunderbirdAndroid(body []byte) (*Settings, error) {
	ep, err := parseAutoconfig(body)
	if err != nil {
		return nil, err
	}
	id, _ := ep.AttrValue("id")
	cfg := &Settings{ID: id}
	if !ValidHostname(cfg.ID) {
		return nil, fmt.Errorf("emailProvider id %q is not a hostname", cfg.ID)
	}
	for _, d := range ep.All("domain") {
		cfg.Domains = append(cfg.Domains, d.Text)
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("no <domain>")
	}
	if dn := ep.Child("displayName"); dn != nil {
		cfg.DisplayName = dn.Text
	}
	parseServer := func(n *Node) (Server, error) {
		typ, _ := n.AttrValue("type")
		s := Server{Type: typ}
		for _, c := range n.Children {
			if len(c.Children) > 0 {
				return s, fmt.Errorf("element <%s> inside text element <%s>", c.Children[0].Name.Local, c.Name.Local)
			}
		}
		host, port, user := n.Child("hostname"), n.Child("port"), n.Child("username")
		if host == nil || port == nil || user == nil {
			return s, fmt.Errorf("%s server misses hostname, port or username", s.Type)
		}
		if strings.TrimSpace(host.Text) != host.Text || host.Text == "" {
			return s, fmt.Errorf("hostname %q has surrounding whitespace or is empty", host.Text)
		}
		s.Hostname, s.Username = host.Text, user.Text
		p, err := strconv.Atoi(port.Text)
		if err != nil || p < 1 || p > 65535 {
			return s, fmt.Errorf("port %q invalid", port.Text)
		}
		s.Port = p
		st := n.Child("socketType")
		if st == nil {
			return s, errors.New("no socketType")
		}
		switch st.Text {
		case SocketSSL, SocketSTARTTLS:
			s.Socket = st.Text
		default:
			return s, fmt.Errorf("socketType %q is not SSL or STARTTLS", st.Text)
		}
		for _, a := range n.All("authentication") {
			switch a.Text {
			case "password-cleartext", "password-encrypted", "OAuth2":
				// The parser keeps OAuth2, and GetAutoDiscovery.kt drops it for hosts
				// without a built-in OAuth2 configuration.
				if s.Auth == "" && (a.Text != "OAuth2" || OAuth2BuiltIn(s.Hostname)) {
					s.Auth = a.Text
				}
			}
		}
		if s.Auth == "" {
			return s, errors.New("no recognised authentication (OAuth2 counts only for hosts the app knows)")
		}
		return s, nil
	}
	for _, n := range ep.All("incomingServer") {
		if t, _ := n.AttrValue("type"); t != TypeIMAP {
			continue // K-9 ignores POP3
		}
		s, err := parseServer(n)
		if err != nil {
			return nil, err
		}
		cfg.Incoming = append(cfg.Incoming, s)
	}
	for _, n := range ep.All("outgoingServer") {
		if t, _ := n.AttrValue("type"); t != TypeSMTP {
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

// oauth2Domains are the domains under which Thunderbird and Thunderbird for Android
// ship OAuth2 client configurations (comm-central OAuth2Providers.sys.mjs kHostnames,
// thunderbird-android's OAuth configurations); both skip the OAuth2 method for any
// other host, since the autoconfig <oAuth2> section is not read.
var oauth2Domains = []string{
	"gmail.com", "googlemail.com", "mail.ru", "yandex.com", "yahoo.com", "att.net",
	"aol.com", "office365.com", "outlook.com", "fastmail.com", "comcast.net",
}

// OAuth2BuiltIn reports whether the clients have a built-in OAuth2 configuration for
// a server host name.
func OAuth2BuiltIn(host string) bool {
	for _, d := range oauth2Domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// thunderbirdAuth are the authentication values Thunderbird desktop accepts
// (readFromXML.sys.mjs).
var thunderbirdAuth = map[string]bool{
	"password-cleartext": true, "plain": true, "password-encrypted": true, "secure": true,
	"GSSAPI": true, "NTLM": true, "TLS-client-cert": true, "client-IP-address": true,
	"none": true, "OAuth2": true, "smtp-after-pop": true,
}

// Thunderbird applies Thunderbird desktop rules: the Content-Type must start with
// text/xml, application/xml or text/rdf; only the first emailProvider is read; id and a
// domain are required; text is not trimmed, socketType is exact-case; the first valid
// server per direction wins; a usable incoming and a usable smtp server are required.
func Thunderbird(body []byte, contentType string) (*Settings, error) {
	// FetchHTTP.sys.mjs: other types make the source fail.
	if !strings.HasPrefix(contentType, "text/xml") && !strings.HasPrefix(contentType, "application/xml") && !strings.HasPrefix(contentType, "text/rdf") {
		return nil, fmt.Errorf("Content-Type %q is not XML", contentType)
	}
	ep, err := parseAutoconfig(body)
	if err != nil {
		return nil, err
	}
	id, _ := ep.AttrValue("id")
	cfg := &Settings{ID: id}
	if !ValidHostname(cfg.ID) {
		return nil, fmt.Errorf("emailProvider id %q invalid", cfg.ID)
	}
	for _, d := range ep.All("domain") {
		if len(d.Attr) == 0 && ValidHostname(d.Text) { // JXON skips a domain with attributes
			cfg.Domains = append(cfg.Domains, d.Text)
		}
	}
	if len(cfg.Domains) == 0 {
		return nil, errors.New("no valid <domain>")
	}
	if dn := ep.Child("displayName"); dn == nil || dn.Text == "" {
		return nil, errors.New(`no displayName: Thunderbird would name the account "undefined"`)
	} else {
		cfg.DisplayName = dn.Text
	}
	parseServer := func(n *Node) (Server, bool) {
		typ, _ := n.AttrValue("type")
		s := Server{Type: typ}
		host, port, st, user := n.Child("hostname"), n.Child("port"), n.Child("socketType"), n.Child("username")
		if host == nil || port == nil || st == nil || host.Text == "" {
			return s, false
		}
		switch st.Text { // exact case, not trimmed
		case SocketSSL, SocketSTARTTLS, SocketPlain:
		default:
			return s, false
		}
		p, err := strconv.Atoi(port.Text)
		if err != nil || p < 1 || p > 65535 {
			return s, false
		}
		s.Hostname, s.Port, s.Socket = host.Text, p, st.Text
		if user != nil {
			s.Username = user.Text
		}
		for _, a := range n.All("authentication") {
			// readAuthentication: the first value it knows wins; OAuth2 only for hosts
			// with a built-in OAuth2 configuration.
			if thunderbirdAuth[a.Text] && (a.Text != "OAuth2" || OAuth2BuiltIn(s.Hostname)) {
				s.Auth = a.Text
				break
			}
		}
		return s, s.Auth != ""
	}
	for _, n := range ep.All("incomingServer") {
		if t, _ := n.AttrValue("type"); t != TypeIMAP && t != TypePOP3 {
			continue
		}
		if s, ok := parseServer(n); ok {
			cfg.Incoming = append(cfg.Incoming, s)
		}
	}
	for _, n := range ep.All("outgoingServer") {
		if t, _ := n.AttrValue("type"); t != TypeSMTP {
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

// AutoconfigCommon applies what the lenient-but-literal clients need: values without
// surrounding whitespace (Thunderbird does not trim), placeholders only as the whole
// username (GOA, FairEmail, EmailEngine), no password, webMail or
// useGlobalPreferredServer elements, no <enable> inside a server.
func AutoconfigCommon(body []byte) error {
	root, err := ParseXML(body)
	if err != nil {
		return err
	}
	var walk func(n *Node) error
	walk = func(n *Node) error {
		switch n.Name.Local {
		case "password", "webMail", "useGlobalPreferredServer":
			return fmt.Errorf("<%s> must not be emitted", n.Name.Local)
		}
		if len(n.Children) == 0 && strings.TrimSpace(n.Text) != n.Text {
			return fmt.Errorf("<%s> value %q has surrounding whitespace", n.Name.Local, n.Text)
		}
		if n.Name.Local == "username" && strings.Contains(n.Text, "%") {
			switch n.Text {
			case "%EMAILADDRESS%", "%EMAILLOCALPART%", "%EMAILDOMAIN%":
			default:
				return fmt.Errorf("username %q mixes a placeholder with text", n.Text)
			}
		}
		if n.Name.Local == "hostname" && strings.Contains(n.Text, "%") {
			return fmt.Errorf("hostname %q holds a placeholder", n.Text)
		}
		if (n.Name.Local == "incomingServer" || n.Name.Local == "outgoingServer") && n.Child("enable") != nil {
			// Thunderbird for Android rejects elements it does not know inside a server.
			return fmt.Errorf("<enable> inside <%s>", n.Name.Local)
		}
		for _, c := range n.Children {
			if err := walk(c); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(root)
}

// AutoconfigServers returns every server of a document as written, before any client
// drops one: the type attribute, the texts of hostname and socketType, and the port
// (0 when it is not a number). It is what Mistakes looks at, so that a server a client
// skips (socketType TLS) is still named.
func AutoconfigServers(body []byte) ([]Server, error) {
	ep, err := parseAutoconfig(body)
	if err != nil {
		return nil, err
	}
	var out []Server
	for _, dir := range []string{"incomingServer", "outgoingServer"} {
		for _, n := range ep.All(dir) {
			typ, _ := n.AttrValue("type")
			s := Server{Type: typ}
			if h := n.Child("hostname"); h != nil {
				s.Hostname = h.Text
			}
			if p := n.Child("port"); p != nil {
				s.Port, _ = strconv.Atoi(p.Text)
			}
			if st := n.Child("socketType"); st != nil {
				s.Socket = st.Text
			}
			if u := n.Child("username"); u != nil {
				s.Username = u.Text
			}
			if a := n.Child("authentication"); a != nil {
				s.Auth = a.Text
			}
			out = append(out, s)
		}
	}
	return out, nil
}
