package mailconf

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// checkDAV checks the CalDAV or CardDAV services of a provider. One TXT record per
// SRV name carries the context path (RFC 6764 §4), so all services of a kind share it.
func (v *validator) checkDAV(list []DAVService, path string) {
	for j := range list {
		s := &list[j]
		sp := fmt.Sprintf("%s[%d]", path, j)
		if s.URL.URL == nil {
			v.add(sp+".url", "missing: the service's http or https URL (https://dav.example.com/caldav/)")
			continue
		}
		host, err := ParseDomain(s.URL.Hostname())
		if err != nil {
			v.add(sp+".url", "%q: the host must be a domain name, which the SRV record names (RFC 2782)", s.URL.Host)
		}
		s.Host, s.Port = host, 443
		if s.URL.Scheme == "http" {
			s.Port = 80
		}
		if p := s.URL.Port(); p != "" {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				v.add(sp+".url", "%q: port %s is outside 1..65535", s.URL, p)
			}
			s.Port = uint16(n)
		}
		if s.URL.User != nil || s.URL.RawQuery != "" || s.URL.Fragment != "" {
			v.add(sp+".url", "%q: no user, query or fragment: SRV and TXT records carry only host, port and path (RFC 6764 §3, §4)", s.URL)
		}
		if strings.ContainsAny(s.URL.Path, "\" \\") {
			v.add(sp+".url", "%q: the path may not hold spaces, quotes or backslashes", s.URL.Path)
		}
		if s.URL.Scheme == "http" {
			v.warn(sp+".url", "plain http sends passwords unencrypted; clients try the https service first (RFC 6764 §8)")
		}
		if s.Path() != list[0].Path() {
			v.add(sp+".url", "path %s differs from %s's %s: one TXT record carries the context path of every service of a kind (RFC 6764 §4)", s.Path(), fmt.Sprintf("%s[0]", path), list[0].Path())
		}
		v.checkUsername(&s.Username, sp+".username")
	}
}

// checkOAuth2 checks the OAuth2 server against the servers' methods: a server's
// OAuth2 method needs a client that knows the provider, by this block or built in.
func (v *validator) checkOAuth2(p *Provider, path string) {
	usesOAuth2 := false
	for s := range p.Servers() {
		for _, m := range s.Authentication {
			usesOAuth2 = usesOAuth2 || m == AuthOAuth2
		}
	}
	o := p.OAuth2
	if o == nil {
		if usesOAuth2 {
			v.warn(join(path, "oauth2"), "servers offer OAuth2 but the provider has no oauth2 block: only clients with this provider built in can use it")
		}
		return
	}
	op := join(path, "oauth2")
	if !usesOAuth2 {
		v.warn(op, "no server lists the OAuth2 method, so clients will not use this block")
	}
	if o.Issuer.IsZero() {
		v.add(op+".issuer", "missing: the authorization server's host name")
	}
	switch {
	case o.Scope == "":
		v.add(op+".scope", "missing: the scopes covering every service the provider publishes")
	case strings.ContainsAny(o.Scope, "\r\n\t\"\\"):
		v.add(op+".scope", "space-separated scope tokens only (RFC 6749 §3.3)")
	}
	for _, f := range []struct {
		key string
		u   URL
	}{{"auth_url", o.AuthURL}, {"token_url", o.TokenURL}} {
		switch {
		case f.u.URL == nil:
			v.add(op+"."+f.key, "missing: an https URL")
		case f.u.Scheme != "https":
			v.add(op+"."+f.key, "%q: OAuth2 endpoints must be https (RFC 6749 §3.1, §3.2)", f.u)
		}
	}
	if strings.ContainsAny(o.ClientID, "\r\n\t") || strings.TrimSpace(o.ClientID) != o.ClientID {
		v.add(op+".client_id", "one token without spaces around it, please")
	}
}

// checkMTASTS checks an MTA-STS policy and fills in its max_age.
func (v *validator) checkMTASTS(m *MTASTSPolicy, path string) {
	if m == nil {
		return
	}
	switch m.Mode {
	case MTASTSEnforce, MTASTSTesting, MTASTSNone:
	case "":
		v.add(path+".mode", "missing: enforce, testing or none")
	default:
		v.add(path+".mode", "%q is not enforce, testing or none (RFC 8461 §3.2)", m.Mode)
	}
	if len(m.MX) == 0 && m.Mode != MTASTSNone {
		v.add(path+".mx", "missing: list the host names your MX records name (RFC 8461 §3.2)")
	}
	seen := map[string]bool{}
	for j, mx := range m.MX {
		name := strings.TrimPrefix(mx, "*.")
		if d, err := ParseDomain(name); err != nil || d.String() != name {
			v.add(fmt.Sprintf("%s.mx[%d]", path, j), "%q is not a host name or *. and a host name (RFC 8461 §4.1)", mx)
		}
		if seen[mx] {
			v.add(fmt.Sprintf("%s.mx[%d]", path, j), "%s listed twice", mx)
		}
		seen[mx] = true
	}
	switch {
	case m.MaxAge == 0:
		m.MaxAge = defaultMTASTSMaxAge
	case m.MaxAge < 0 || m.MaxAge > MTASTSMaxAgeLimit:
		v.add(path+".max_age", "%d: want 1 to %d seconds (RFC 8461 §3.2)", m.MaxAge, MTASTSMaxAgeLimit)
	case m.MaxAge < 86400:
		v.warn(path+".max_age", "%d seconds: senders re-fetch the policy that often; RFC 8461 §3.2 expects weeks", m.MaxAge)
	}
	for j, r := range m.ReportTo {
		if err := checkReportURI(r); err != nil {
			v.add(fmt.Sprintf("%s.report_to[%d]", path, j), "%q: %v", r, err)
		}
	}
}

// checkReportURI checks a TLS report address: mailto: or https: (RFC 8460 §3), with
// nothing that would end the rua list inside it.
func checkReportURI(r string) error {
	if strings.ContainsAny(r, ",; \t\r\n\"\\!") {
		return fmt.Errorf("commas, semicolons, spaces, quotes and '!' must be percent-encoded (RFC 8460 §3)")
	}
	u, err := url.Parse(r)
	if err != nil {
		return fmt.Errorf("not a URI")
	}
	switch u.Scheme {
	case "mailto":
		if _, err := ParseAddress(u.Opaque); err != nil {
			return fmt.Errorf("not a mailto: address: %w", err)
		}
	case "https":
		if u.Host == "" {
			return fmt.Errorf("an https URI needs a host")
		}
	default:
		return fmt.Errorf("want a mailto: or https: URI (RFC 8460 §3)")
	}
	return nil
}
