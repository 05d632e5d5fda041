package clientrules

// The sections of an autoconfig document beside emailProvider, read by the rules of
// draft-ietf-mailmaint-autoconfig: calendars, address books and the OAuth2 server.
// Thunderbird and Thunderbird for Android skip them (docs/clients.md); the draft is the
// strictest reader there is.

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// URLService is a calendar or address book section.
type URLService struct {
	Kind     string   // calendar or addressbook
	Type     string   // caldav or carddav
	URL      string   // absolute http or https
	Auth     []string // "OAuth2", or the HTTP scheme of system="http" (Basic, Digest)
	Username string
}

// OAuth2 is the oAuth2 section.
type OAuth2 struct {
	Issuer, Scope, AuthURL, TokenURL, ClientID string
}

// Extras is what a draft-following client takes from beside emailProvider.
type Extras struct {
	Services []URLService
	OAuth2   *OAuth2
}

// draftTypes are the section types the draft defines for each element (§"Server
// sections", type table).
var draftTypes = map[string]string{"calendar": "caldav", "addressbook": "carddav"}

// AutoconfigExtras reads calendar, addressbook and oAuth2 by the draft's rules: they are
// children of clientConfig, never of emailProvider (§"Server sections"); a URL section
// has exactly one absolute url, a username, and authentication that is OAuth2 without
// an attribute or an HTTP scheme with system="http" ("Bearer" with system="http" is
// invalid, §"URL-based protocols"); oAuth2 gives issuer, scope and https authURL and
// tokenURL (§"OAuth2"); text is not trimmed, so none may have surrounding space.
func AutoconfigExtras(body []byte) (*Extras, error) {
	root, err := ParseXML(body)
	if err != nil {
		return nil, err
	}
	if root.Name.Local != "clientConfig" {
		return nil, fmt.Errorf("root is <%s>, not <clientConfig>", root.Name.Local)
	}
	if ep := root.Child("emailProvider"); ep != nil {
		for _, c := range ep.Children {
			switch c.Name.Local {
			case "calendar", "addressbook", "addressBook", "oAuth2":
				return nil, fmt.Errorf("<%s> inside <emailProvider>: it belongs in <clientConfig>", c.Name.Local)
			}
		}
	}
	out := &Extras{}
	for _, c := range root.Children {
		switch c.Name.Local {
		case "addressBook":
			return nil, errors.New("<addressBook>: the draft's element is <addressbook>")
		case "calendar", "addressbook":
			s, err := urlService(c)
			if err != nil {
				return nil, fmt.Errorf("<%s>: %w", c.Name.Local, err)
			}
			out.Services = append(out.Services, s)
		case "oAuth2":
			if out.OAuth2 != nil {
				return nil, errors.New("a second <oAuth2>")
			}
			o, err := oauth2Section(c)
			if err != nil {
				return nil, fmt.Errorf("<oAuth2>: %w", err)
			}
			out.OAuth2 = o
		}
	}
	return out, nil
}

func urlService(n *Node) (URLService, error) {
	s := URLService{Kind: n.Name.Local}
	s.Type, _ = n.AttrValue("type")
	if s.Type != draftTypes[s.Kind] {
		return s, fmt.Errorf("type %q, want %s", s.Type, draftTypes[s.Kind])
	}
	for _, c := range n.Children {
		if len(c.Children) > 0 {
			return s, fmt.Errorf("element <%s> inside <%s>", c.Children[0].Name.Local, c.Name.Local)
		}
		if strings.TrimSpace(c.Text) != c.Text {
			return s, fmt.Errorf("<%s> %q has surrounding space", c.Name.Local, c.Text)
		}
	}
	urls := n.All("url")
	if len(urls) != 1 {
		return s, fmt.Errorf("%d <url> elements, want one", len(urls))
	}
	u, err := url.Parse(urls[0].Text)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return s, fmt.Errorf("url %q is not an absolute http or https URL", urls[0].Text)
	}
	s.URL = urls[0].Text
	for _, a := range n.All("authentication") {
		system, has := a.AttrValue("system")
		switch {
		case !has && a.Text == "OAuth2":
			s.Auth = append(s.Auth, a.Text)
		case has && system == "http" && (a.Text == "Basic" || a.Text == "Digest"):
			s.Auth = append(s.Auth, a.Text)
		default:
			return s, fmt.Errorf("authentication %q (system %q) is neither OAuth2 nor an HTTP scheme with system=\"http\"", a.Text, system)
		}
	}
	if len(s.Auth) == 0 {
		return s, errors.New("no authentication")
	}
	user := n.Child("username")
	if user == nil || user.Text == "" {
		return s, errors.New("no username")
	}
	s.Username = user.Text
	return s, nil
}

func oauth2Section(n *Node) (*OAuth2, error) {
	o := &OAuth2{}
	fields := map[string]*string{"issuer": &o.Issuer, "scope": &o.Scope, "authURL": &o.AuthURL, "tokenURL": &o.TokenURL, "clientID": &o.ClientID}
	for _, c := range n.Children {
		f, ok := fields[c.Name.Local]
		if !ok {
			continue // clientSecret, extensions
		}
		if len(c.Children) > 0 || strings.TrimSpace(c.Text) != c.Text {
			return nil, fmt.Errorf("<%s> must be plain text without surrounding space", c.Name.Local)
		}
		if *f != "" {
			return nil, fmt.Errorf("a second <%s>", c.Name.Local)
		}
		*f = c.Text
	}
	if !ValidHostname(o.Issuer) {
		return nil, fmt.Errorf("issuer %q is not a host name", o.Issuer)
	}
	if o.Scope == "" {
		return nil, errors.New("no scope")
	}
	for _, e := range []string{o.AuthURL, o.TokenURL} {
		if u, err := url.Parse(e); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("endpoint %q is not an absolute https URL", e)
		}
	}
	return o, nil
}
