package mailconf

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// validator collects every problem of one configuration file, each with its line.
type validator struct {
	file     string
	lines    map[string]int // field path -> line of its key (or item)
	problems []Problem
}

var (
	typeOfConfig      = reflect.TypeFor[Config]()
	typeYAMLUnmarshal = reflect.TypeFor[yaml.Unmarshaler]()
)

func (v *validator) line(path string) int {
	for path != "" {
		if l, ok := v.lines[path]; ok {
			return l
		}
		// Fall back to the enclosing field.
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

func (v *validator) add(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(path), Field: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warn(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(path), Field: path, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (v *validator) errorCount() int {
	n := 0
	for _, p := range v.problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

func (v *validator) result() error {
	return &ProblemList{Problems: v.problems}
}

func (v *validator) addYAMLError(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, e := range te.Errors {
			v.problems = append(v.problems, Problem{File: v.file, Line: yamlErrorLine(errors.New(e)), Message: cleanYAMLError(errors.New(e))})
		}
		return
	}
	v.problems = append(v.problems, Problem{File: v.file, Line: yamlErrorLine(err), Message: cleanYAMLError(err)})
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = yamlLineRE.ReplaceAllString(s, "")
	return strings.TrimLeft(s, " :")
}

// walk follows the YAML node tree along the Go type t, recording the line of every
// field and reporting unknown keys and values of the wrong kind.
func (v *validator) walk(n *yaml.Node, path string, t reflect.Type) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(typeYAMLUnmarshal) {
		var tmp = reflect.New(t)
		if err := tmp.Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			v.add(path, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		v.walk(n, path, t.Elem())
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			v.add(path, "want a mapping of keys to values, found %s", kindName(n))
			return
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			v.lines[p] = k.Line
			f, ok := fields[k.Value]
			if !ok {
				v.add(p, "unknown key %q (known: %s)", k.Value, knownKeys(t))
				continue
			}
			if seen[k.Value] {
				v.add(p, "key given twice")
			}
			seen[k.Value] = true
			v.walk(val, p, f.Type)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			v.add(path, "want a list, found %s", kindName(n))
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			v.lines[p] = item.Line
			v.walk(item, p, t.Elem())
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			v.add(path, "want text, found %s", kindName(n))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			v.add(path, "want true or false, found %s", kindName(n))
		}
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			v.add(path, "want a number, found %s", kindName(n))
		}
	case reflect.Int, reflect.Uint16, reflect.Uint32:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			v.add(path, "want a whole number, found %s", kindName(n))
			return
		}
		bits := t.Bits()
		if t.Kind() == reflect.Int {
			if _, err := strconv.ParseInt(n.Value, 0, 32); err != nil {
				v.add(path, "%s is out of range", n.Value)
			}
		} else if _, err := strconv.ParseUint(n.Value, 0, bits); err != nil {
			v.add(path, "%s is out of range 0..%d", n.Value, uint64(1)<<bits-1)
		}
	}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return fmt.Sprintf("text %q", n.Value)
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = f
		}
	}
	return m
}

func knownKeys(t reflect.Type) string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return strings.Join(keys, ", ")
}

// check validates the decoded configuration, fills defaults and normalizes names,
// and builds the catalog.
func (v *validator) check(cfg *Config) *Catalog {
	builtins, err := builtinProviders()
	if err != nil {
		v.add("", "%v", err)
		return nil
	}
	cat := &Catalog{byDomain: map[string]*Provider{}}
	if len(cfg.Providers) == 0 {
		v.add("providers", "list at least one provider")
	}
	ids := map[string]string{}     // id -> path of its first use
	domains := map[string]string{} // domain -> path of the provider claiming it
	for i := range cfg.Providers {
		path := fmt.Sprintf("providers[%d]", i)
		p := cfg.Providers[i]
		if p.Builtin != "" {
			b, ok := builtins[p.Builtin]
			if !ok {
				v.add(path+".builtin", "no built-in provider %q (built in: %s)", p.Builtin, strings.Join(sortedKeys(builtins), ", "))
				continue
			}
			if !reflect.DeepEqual(p, Provider{Builtin: p.Builtin}) {
				v.add(path, "an entry with builtin takes that provider as it is; it cannot also set other keys")
			}
			p = b
		}
		v.checkProvider(&p, path)
		if p.ID != "" {
			if first, dup := ids[p.ID]; dup {
				v.add(path+".id", "id %q is already used by %s", p.ID, first)
			} else {
				ids[p.ID] = path
			}
		}
		for j, d := range p.Domains {
			dp := fmt.Sprintf("%s.domains[%d]", path, j)
			if first, dup := domains[d]; dup {
				v.add(dp, "domain %s is already claimed by %s", d, first)
				continue
			}
			domains[d] = path
		}
		cat.Providers = append(cat.Providers, &p)
	}
	v.checkAutodiscover(&cfg.Autodiscover)
	v.checkDNS(&cfg.DNS, cat.Providers)
	v.checkHTTP(&cfg.HTTP)
	v.checkTLS(&cfg.TLS)
	if v.errorCount() > 0 {
		return nil
	}
	for _, p := range cat.Providers {
		for _, d := range p.Domains {
			cat.byDomain[d] = p
		}
	}
	cat.Autodiscover = cfg.Autodiscover
	cat.DNS = cfg.DNS
	cat.HTTP = cfg.HTTP
	cat.TLS = cfg.TLS
	cat.Warnings = append(cat.Warnings, v.problems...)
	return cat
}

func sortedKeys(m map[string]Provider) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (v *validator) checkProvider(p *Provider, path string) {
	if p.ID == "" {
		v.add(path+".id", "missing: give the provider an id, conventionally its primary domain")
	} else if id, err := NormalizeDomain(p.ID); err != nil {
		v.add(path+".id", "%q is not a valid hostname (clients require emailProvider@id to be one): %v", p.ID, unwrapMsg(err))
	} else {
		p.ID = id
	}
	checkLength := func(field string, l Localized, soft, hard int) {
		for _, t := range l {
			n := utf8.RuneCountInString(t.Value)
			switch {
			case strings.TrimSpace(t.Value) != t.Value || strings.ContainsAny(t.Value, "\r\n\t"):
				v.add(path+"."+field, "no leading, trailing or embedded line breaks allowed (clients do not trim)")
			case n > hard:
				v.add(path+"."+field, "%d characters; at most %d allowed (draft-ietf-mailmaint-autoconfig §4)", n, hard)
			case n > soft:
				v.warn(path+"."+field, "%d characters; at most %d recommended (draft-ietf-mailmaint-autoconfig §4)", n, soft)
			}
		}
	}
	if p.DisplayName.Default() == "" {
		v.add(path+".display_name", "missing: clients show it as the account name")
	}
	checkLength("display_name", p.DisplayName, 30, 60)
	if p.ShortName.Default() == "" {
		// The display name stands in when it is short enough.
		for _, t := range p.DisplayName {
			if utf8.RuneCountInString(t.Value) > 20 {
				v.add(path+".short_name", "missing, and display_name %q is too long to stand in for it: give a short_name of at most 20 characters", t.Value)
				break
			}
		}
		p.ShortName = p.DisplayName
	} else {
		checkLength("short_name", p.ShortName, 12, 20)
	}

	if len(p.Domains) == 0 {
		v.add(path+".domains", "missing: list at least one domain")
	}
	for j, d := range p.Domains {
		nd, err := NormalizeDomain(d)
		if err != nil {
			v.add(fmt.Sprintf("%s.domains[%d]", path, j), "%v", unwrapMsg(err))
			continue
		}
		// DNS publishes names under the domain; the longest must still be a valid name
		// (RFC 1035 §2.3.4: 253 characters without the final dot).
		if len(longestOwner)+len(nd) > maxDomainLen {
			v.add(fmt.Sprintf("%s.domains[%d]", path, j), "%d characters: too long to publish %s<domain> in DNS (at most %d)", len(nd), longestOwner, maxDomainLen-len(longestOwner))
			continue
		}
		p.Domains[j] = nd
	}

	if len(p.Incoming) == 0 {
		v.add(path+".incoming", "missing: list at least one incoming (imap or pop3) server")
	}
	if len(p.Outgoing) == 0 {
		v.add(path+".outgoing", "missing: list at least one outgoing (smtp) server")
	}
	hasIMAP := false
	for j := range p.Incoming {
		s := &p.Incoming[j]
		sp := fmt.Sprintf("%s.incoming[%d]", path, j)
		if s.Type != TypeIMAP && s.Type != TypePOP3 {
			v.add(sp+".type", "%q is not an incoming server type (imap or pop3)", s.Type)
		}
		hasIMAP = hasIMAP || s.Type == TypeIMAP
		v.checkServer(s, sp)
	}
	if len(p.Incoming) > 0 && !hasIMAP {
		v.warn(path+".incoming", "no imap server: Thunderbird for Android (K-9) ignores POP3 and rejects the whole autoconfig file")
	}
	for j := range p.Outgoing {
		s := &p.Outgoing[j]
		sp := fmt.Sprintf("%s.outgoing[%d]", path, j)
		if s.Type == "" {
			s.Type = TypeSMTP
		}
		if s.Type != TypeSMTP {
			v.add(sp+".type", "%q is not an outgoing server type (smtp)", s.Type)
		}
		v.checkServer(s, sp)
	}
	for j, svc := range p.NotOffered {
		sp := fmt.Sprintf("%s.not_offered[%d]", path, j)
		if !isSRVService(svc) {
			v.add(sp, "%q is not a service name (imap, imaps, pop3, pop3s, submission, submissions)", svc)
			continue
		}
		for _, s := range append(append([]Server(nil), p.Incoming...), p.Outgoing...) {
			if s.SRVService() == svc {
				v.add(sp, "%s is offered by %s:%d; it cannot also be marked as not offered", svc, s.Hostname, s.Port)
			}
		}
	}
	for j, d := range p.Documentation {
		dp := fmt.Sprintf("%s.documentation[%d]", path, j)
		u, err := url.Parse(d.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.add(dp+".url", "%q is not an absolute http or https URL", d.URL)
		}
		if d.Description.Default() == "" {
			v.add(dp+".description", "missing: say what the page is about")
		}
	}
}

func (v *validator) checkServer(s *Server, path string) {
	if s.Hostname == "" {
		v.add(path+".hostname", "missing")
	} else if strings.Contains(s.Hostname, "%") {
		v.add(path+".hostname", "%q: hostnames must be literal; most clients do not substitute placeholders there", s.Hostname)
	} else if h, err := NormalizeDomain(s.Hostname); err != nil {
		v.add(path+".hostname", "%v", unwrapMsg(err))
	} else {
		s.Hostname = h
	}
	if s.Port < 1 || s.Port > 65535 {
		v.add(path+".port", "%d is outside 1..65535", s.Port)
	}
	switch s.Socket {
	case SocketSSL, SocketSTARTTLS:
	case SocketPlain:
		v.warn(path+".socket", "plain sends passwords unencrypted, and Thunderbird for Android rejects a whole autoconfig file that lists a plain server")
	case "":
		v.add(path+".socket", "missing: SSL, STARTTLS or plain")
	default:
		v.add(path+".socket", "%q is not SSL, STARTTLS or plain (exact case; clients reject TLS and other spellings)", s.Socket)
	}
	switch s.Authentication {
	case "":
		s.Authentication = AuthPasswordCleartext
	case AuthPasswordCleartext, AuthPasswordEncrypted, AuthOAuth2, AuthClientIP, AuthTLSClientCert, AuthNone:
	default:
		v.add(path+".authentication", "%q is not one of password-cleartext, password-encrypted, OAuth2, client-IP-address, TLS-client-cert, none", s.Authentication)
	}
	if s.Username == "" {
		s.Username = PlaceholderAddress
	} else if strings.Contains(s.Username, "%") {
		switch s.Username {
		case PlaceholderAddress, PlaceholderLocalPart, PlaceholderDomain:
		default:
			v.add(path+".username", "%q: a placeholder must be the whole username: %s, %s or %s", s.Username, PlaceholderAddress, PlaceholderLocalPart, PlaceholderDomain)
		}
	} else if strings.TrimSpace(s.Username) != s.Username || strings.ContainsAny(s.Username, "\r\n\t") {
		v.add(path+".username", "no leading or trailing space allowed")
	}
}

func (v *validator) checkAutodiscover(a *AutodiscoverConfig) {
	if a.URL != "" {
		u, err := url.Parse(a.URL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			v.add("autodiscover.url", "%q is not an absolute https URL without query (Outlook accepts only HTTPS)", a.URL)
		} else if _, err := NormalizeDomain(u.Hostname()); err != nil {
			v.add("autodiscover.url", "host: %v", unwrapMsg(err))
		}
	}
	switch a.MobilesyncAnswer {
	case "", "imap":
	default:
		v.add("autodiscover.mobilesync_answer", "%q: want imap, or leave it out to answer error 601", a.MobilesyncAnswer)
	}
	if a.TTL < 0 {
		v.add("autodiscover.ttl", "%d: want hours, 0 or more", a.TTL)
	}
	if a.TTL == 0 {
		a.TTL = 1
	}
}

func (v *validator) checkDNS(d *DNSConfig, providers []*Provider) {
	v.normalizeIPs("dns.addresses", d.Addresses)
	v.normalizeNames("dns.nameservers", d.Nameservers)
	if len(d.Nameservers) == 0 && len(providers) > 0 && providers[0].PrimaryDomain() != "" {
		d.Nameservers = []string{"ns1." + providers[0].PrimaryDomain()}
		if len(d.Addresses) > 0 && len(d.NameserverAddresses) == 0 && v.errorCount() == 0 {
			// The default nameserver is this server.
			d.NameserverAddresses = map[string][]string{d.Nameservers[0]: slices.Clone(d.Addresses)}
		}
	}
	normalized := make(map[string][]string, len(d.NameserverAddresses))
	for name, ips := range d.NameserverAddresses {
		path := "dns.nameserver_addresses." + name
		n, err := NormalizeDomain(name)
		if err != nil || !slices.Contains(d.Nameservers, n) {
			v.add(path, "%q is not one of dns.nameservers", name)
			continue
		}
		v.normalizeIPs(path, ips)
		normalized[n] = ips
	}
	if len(normalized) > 0 {
		d.NameserverAddresses = normalized
	}
	if d.Hostmaster != "" {
		if _, err := ParseAddress(d.Hostmaster); err != nil || strings.Contains(d.Hostmaster, "\"") {
			v.add("dns.hostmaster", "%q is not an email address", d.Hostmaster)
		}
	} else if len(d.Nameservers) > 0 {
		ns := d.Nameservers[0]
		if i := strings.IndexByte(ns, '.'); i >= 0 && strings.Contains(ns[i+1:], ".") {
			ns = ns[i+1:]
		}
		d.Hostmaster = "hostmaster@" + ns
	}
	setDefault := func(p *uint32, def uint32) {
		if *p == 0 {
			*p = def
		}
	}
	setDefault(&d.TTL, 3600)
	setDefault(&d.NegativeTTL, 300)
	setDefault(&d.Refresh, 3600)
	setDefault(&d.Retry, 900)
	setDefault(&d.Expire, 1209600)
	if d.Weight == nil {
		w := uint16(1)
		d.Weight = &w
	}
	for _, f := range []struct{ name, val string }{{"dns.version", d.Version}, {"dns.server_id", d.ServerID}} {
		if len(f.val) > 255 || strings.ContainsFunc(f.val, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
			v.add(f.name, "at most 255 printable ASCII characters")
		}
	}
}

// longestOwner is the longest prefix DNS puts before a mail domain.
const longestOwner = "_autodiscover._tcp."

// unwrapMsg drops the package prefix of a sentinel-wrapped error for messages.
func unwrapMsg(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, ErrBadAddress.Error()+": ")
	s = strings.TrimPrefix(s, ErrBadDomain.Error()+": ")
	return s
}

func (v *validator) checkHTTP(h *HTTPConfig) {
	for i, p := range h.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			v.add(fmt.Sprintf("http.trusted_proxies[%d]", i), "%q is not an address or CIDR prefix", p)
		}
	}
	if h.RateLimit < 0 {
		v.add("http.rate_limit", "want requests per second, 0 (no limit) or more")
	}
	if h.RateBurst < 0 {
		v.add("http.rate_burst", "want 0 or more")
	}
}

func (v *validator) checkTLS(t *TLSConfig) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("tls", "cert_file and key_file go together")
	}
	if t.ACME == nil {
		return
	}
	if t.CertFile != "" {
		v.add("tls.acme", "use either certificate files or acme, not both")
	}
	a := t.ACME
	if !a.AcceptTOS {
		v.add("tls.acme.accept_tos", "set accept_tos: true to accept the CA's terms of service")
	}
	if a.DirectoryURL != "" {
		if u, err := url.Parse(a.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.add("tls.acme.directory_url", "%q is not an absolute https URL", a.DirectoryURL)
		}
	}
	if a.Email != "" {
		if _, err := ParseAddress(a.Email); err != nil {
			v.add("tls.acme.email", "%q is not an email address", a.Email)
		}
	}
	if a.StateDir == "" {
		a.StateDir = "/var/lib/mailconf/acme"
	}
	v.normalizeNames("tls.acme.extra_names", a.ExtraNames)
}

// normalizeNames checks and normalizes a list of host names in place (NormalizeDomain).
func (v *validator) normalizeNames(field string, names []string) {
	for i, n := range names {
		d, err := NormalizeDomain(n)
		if err != nil {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%v", unwrapMsg(err))
			continue
		}
		names[i] = d
	}
}

// normalizeIPs checks a list of IPv4/IPv6 addresses and writes them in canonical form.
func (v *validator) normalizeIPs(field string, ips []string) {
	for i, a := range ips {
		ip, err := netip.ParseAddr(a)
		if err != nil || ip.Zone() != "" {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%q is not an IPv4 or IPv6 address", a)
			continue
		}
		ips[i] = ip.Unmap().String()
	}
}
