// Package mailconf holds the provider model that every protocol package serves from,
// and the loading and validation of the YAML configuration that describes it.
package mailconf

import (
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Provider is one mail service: the servers a mail client should use for every
// address in its domains.
type Provider struct {
	// ID identifies the provider; it is written as emailProvider@id in autoconfig,
	// so it must be a valid hostname (conventionally the primary domain).
	ID Domain `yaml:"id"`

	// Builtin, when set, names a provider shipped inside the binary (for example
	// "qq.com"); the entry then takes that provider whole and must set nothing else.
	Builtin string `yaml:"builtin,omitempty"`

	// ISPDB, when set, names a file in Mozilla's ISPDB format (config-v1.1.xml), or a
	// directory of them: the entry takes the providers they describe and must set nothing
	// else. Elements mailconf does not model are reported as warnings.
	ISPDB string `yaml:"ispdb,omitempty"`

	// DisplayName is the provider's full name, as one string or per language
	// ({en: QQ Mail, zh-CN: QQ邮箱}); the first language listed is the default.
	DisplayName Localized `yaml:"display_name"`

	// ShortName is the provider's short name (at most 20 characters), plain or
	// per language.
	ShortName Localized `yaml:"short_name"`

	// Domains are the mail domains the provider serves. The first is primary, the
	// rest are aliases. Internationalized names are accepted and stored in
	// lowercase A-label (punycode) form.
	Domains []Domain `yaml:"domains"`

	// DomainsFrom are further lists of domains the provider serves, read when mailconf
	// starts and again every DomainsRefresh and on SIGHUP: a text file, or a database
	// query. A source that fails keeps its last good list.
	DomainsFrom []DomainSource `yaml:"domains_from,omitempty"`

	// DomainsRefresh is how often DomainsFrom are read again. Default 60s.
	DomainsRefresh time.Duration `yaml:"domains_refresh,omitempty"`

	// Incoming lists the IMAP and POP3 servers, most preferred first.
	Incoming []Server `yaml:"incoming"`

	// Outgoing lists the SMTP submission servers, most preferred first.
	Outgoing []Server `yaml:"outgoing"`

	// NotOffered names services the provider decidedly does not offer, so DNS can
	// publish RFC 6186 "not available" records for them. Values are SRV service
	// names: imap, imaps, pop3, pop3s, submission, submissions.
	NotOffered []Service `yaml:"not_offered,omitempty"`

	// Documentation links to pages that help users, each with a per-language
	// description.
	Documentation []Documentation `yaml:"documentation,omitempty"`

	// Instructions are setup steps shown on help pages, per language (for QQ Mail:
	// enable IMAP/SMTP and create an authorization code).
	Instructions Localized `yaml:"instructions,omitempty"`

	// PasswordHint says what mail apps take as the password, plain or per language
	// (for QQ Mail: the authorization code, not the QQ password). The setup pages show
	// it. Default: the account's password.
	PasswordHint Localized `yaml:"password_hint,omitempty"`

	// Calendars and Contacts are the CalDAV and CardDAV services of the provider's
	// accounts (RFC 4791, RFC 6352), published in SRV and TXT records (RFC 6764), the
	// .well-known redirects, autoconfig, Apple profiles and the setup pages.
	Calendars []DAVService `yaml:"calendars,omitempty"`
	Contacts  []DAVService `yaml:"contacts,omitempty"`

	// OAuth2 describes the provider's OAuth2 authorization server, for clients that
	// log in with OAuth2 (autoconfig's <oAuth2>).
	OAuth2 *OAuth2Config `yaml:"oauth2,omitempty"`

	// MTASTS is the provider's MTA-STS policy (RFC 8461), served at
	// https://mta-sts.<d>/.well-known/mta-sts.txt and announced in _mta-sts.<d>, with
	// TLS reporting (RFC 8460) in _smtp._tls.<d>.
	MTASTS *MTASTSPolicy `yaml:"mta_sts,omitempty"`

	// EnableURL is the page where users must first allow mail apps to connect (enable
	// IMAP, create an app password). With it, autoconfig carries
	// <enable visiturl="..."> and the Instructions, and the setup pages link it.
	EnableURL *URL `yaml:"enable_url,omitempty"`
}

// PrimaryDomain returns the first of the provider's domains.
func (p *Provider) PrimaryDomain() Domain {
	if len(p.Domains) == 0 {
		return Domain{}
	}
	return p.Domains[0]
}

// PreferredIncoming returns the incoming server a client that takes one uses: the first
// IMAP server, else the first server.
func (p *Provider) PreferredIncoming() *Server {
	for i := range p.Incoming {
		if p.Incoming[i].Type == TypeIMAP {
			return &p.Incoming[i]
		}
	}
	if len(p.Incoming) == 0 {
		return nil
	}
	return &p.Incoming[0]
}

// Servers yields the incoming servers, then the outgoing ones, each in preference
// order.
func (p *Provider) Servers() iter.Seq[*Server] {
	return func(yield func(*Server) bool) {
		for _, list := range [][]Server{p.Incoming, p.Outgoing} {
			for i := range list {
				if !yield(&list[i]) {
					return
				}
			}
		}
	}
}

// AuthMethods are the login methods of a server, most preferred first.
type AuthMethods []Authentication

// First returns the most preferred method, "" when there is none.
func (a AuthMethods) First() Authentication {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}

// FirstExcept returns the most preferred method other than skip (say, the password
// method for a client without OAuth2), or the first one.
func (a AuthMethods) FirstExcept(skip Authentication) Authentication {
	for _, m := range a {
		if m != skip {
			return m
		}
	}
	return a.First()
}

// UnmarshalYAML accepts one method or a list of them.
func (a *AuthMethods) UnmarshalYAML(n *yaml.Node) error {
	values, err := scalarOrList(n, "a method or a list of methods")
	if err != nil {
		return err
	}
	*a = make(AuthMethods, len(values))
	for i, v := range values {
		(*a)[i] = Authentication(v)
	}
	return nil
}

// MarshalYAML writes one method as text, several as a list.
func (a AuthMethods) MarshalYAML() (any, error) {
	if len(a) == 1 {
		return string(a[0]), nil
	}
	return []Authentication(a), nil
}

// DAVService is a CalDAV or CardDAV service.
type DAVService struct {
	// URL is the service's context path, http or https (https://dav.example.com/caldav/).
	// Its host and port go into the SRV record, its path into the TXT record.
	URL URL `yaml:"url"`
	// Username is the login name, as for mail servers. Default %EMAILADDRESS%.
	Username string `yaml:"username,omitempty"`

	// Host and Port are the URL's host name and port (the scheme's when it has none),
	// filled in by the validator.
	Host Domain `yaml:"-"`
	Port uint16 `yaml:"-"`
}

// PreferredDAV returns the service of a list that clients should set up: the first
// https one, since clients try TLS first (RFC 6764 §6, §8), else the first; nil for an
// empty list.
func PreferredDAV(list []DAVService) *DAVService {
	for i := range list {
		if list[i].URL.Scheme == "https" {
			return &list[i]
		}
	}
	if len(list) == 0 {
		return nil
	}
	return &list[0]
}

// LoginName returns the login name for address a.
func (s *DAVService) LoginName(a Address) string { return loginName(s.Username, a) }

// Path returns the URL's path, "/" when it has none.
func (s *DAVService) Path() string {
	if s.URL.Path == "" {
		return "/"
	}
	return s.URL.Path
}

// OAuth2Config is an OAuth2 authorization server (draft-ietf-mailmaint-autoconfig,
// "OAuth2").
type OAuth2Config struct {
	// Issuer is the authorization server's issuer host name.
	Issuer Domain `yaml:"issuer"`
	// Scope is the space-separated scopes a client asks for, covering every service
	// the provider publishes.
	Scope string `yaml:"scope"`
	// AuthURL and TokenURL are the authorization and token endpoints, https.
	AuthURL  URL `yaml:"auth_url"`
	TokenURL URL `yaml:"token_url"`
	// ClientID is the public client ID apps use; without it, the authorization server
	// must offer dynamic client registration (RFC 7591).
	ClientID string `yaml:"client_id,omitempty"`
}

// DomainSource is one list of domains: a file or a database query; exactly one is set.
type DomainSource struct {
	// File is a text file of one domain per line; "#" starts a comment, blank lines are
	// skipped. Internationalized names may be in Unicode.
	File string `yaml:"file,omitempty"`
	// SQL is a query whose first column is the domains.
	SQL *SQLSource `yaml:"sql,omitempty"`

	// dir is the directory of the configuration file that names the source, which
	// relative paths start from.
	dir string
}

// FilePath returns the file to read, File resolved against the configuration's
// directory.
func (s *DomainSource) FilePath() string { return resolvePath(s.dir, s.File) }

// DSNFilePath returns the file holding the connection string, resolved like FilePath.
func (s *DomainSource) DSNFilePath() string { return resolvePath(s.dir, s.SQL.DSNFile) }

// resolvePath resolves a path written in a configuration file in directory dir.
func resolvePath(dir, path string) string {
	if path == "" || dir == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// SQLSource is a database query that lists domains.
type SQLSource struct {
	// Driver is the database: postgres, mysql or sqlite.
	Driver string `yaml:"driver"`
	// DSN is the connection string (postgres://..., user:pass@tcp(host)/db, a file path
	// for sqlite). Or give it in DSNFile, a file holding it, or DSNEnv, the name of an
	// environment variable holding it, so that credentials stay out of the
	// configuration. Exactly one of the three. Never logged.
	DSN     string `yaml:"dsn,omitempty"`
	DSNFile string `yaml:"dsn_file,omitempty"`
	DSNEnv  string `yaml:"dsn_env,omitempty"`
	// Query returns the domains in its first column, one per row.
	Query string `yaml:"query"`
}

// SQL drivers a source may name.
var SQLDrivers = []string{"postgres", "mysql", "sqlite"}

// String names the source for logs and metrics, without credentials: the file path, or
// the driver and where its connection string comes from.
func (s DomainSource) String() string {
	switch {
	case s.File != "":
		return "file " + s.FilePath()
	case s.SQL != nil:
		switch {
		case s.SQL.DSNFile != "":
			return s.SQL.Driver + " (dsn_file " + s.DSNFilePath() + ")"
		case s.SQL.DSNEnv != "":
			return s.SQL.Driver + " (dsn_env " + s.SQL.DSNEnv + ")"
		}
		return s.SQL.Driver
	}
	return "none"
}

// Server is one incoming or outgoing mail server.
type Server struct {
	// Type is the protocol: imap or pop3 for incoming, smtp for outgoing.
	// Outgoing servers default to smtp.
	Type ServerType `yaml:"type"`

	// Hostname is the server's DNS name: literal (imap.example.com), or labels before
	// %EMAILDOMAIN% (imap.%EMAILDOMAIN%), which stands for each served domain, for
	// hosters whose every customer domain has its own server names.
	Hostname HostPattern `yaml:"hostname"`

	// Port is the TCP port, 1 to 65535.
	Port int `yaml:"port"`

	// Socket is the connection security: SSL (implicit TLS), STARTTLS or plain.
	Socket SocketType `yaml:"socket"`

	// Authentication is how the client proves who it is: one method, or a list from
	// the most to the least preferred (clients take the first they support).
	// Default password-cleartext (the password travels inside TLS).
	Authentication AuthMethods `yaml:"authentication,omitempty"`

	// Username is the login name: %EMAILADDRESS% (the default), %EMAILLOCALPART%,
	// %EMAILDOMAIN%, or literal text.
	Username string `yaml:"username,omitempty"`
}

// HostPattern is a server's host name: a literal name, or labels followed by
// %EMAILDOMAIN%, which stands for the domain being served. Only its UnmarshalText makes
// one with a placeholder; ParseHostPattern makes any.
type HostPattern struct {
	literal   Domain // set for a literal name
	prefix    string // for a pattern: the labels before %EMAILDOMAIN%, with their dot ("imap.")
	perDomain bool
}

// ParseHostPattern parses a literal host name or a pattern such as imap.%EMAILDOMAIN%.
func ParseHostPattern(s string) (HostPattern, error) {
	if !strings.Contains(s, "%") {
		d, err := ParseDomain(s)
		if err != nil {
			return HostPattern{}, err
		}
		return HostPattern{literal: d}, nil
	}
	prefix, ok := strings.CutSuffix(s, PlaceholderDomain)
	if !ok || strings.Contains(prefix, "%") || prefix != "" && !strings.HasSuffix(prefix, ".") {
		return HostPattern{}, fmt.Errorf("%w: %q: the only placeholder a host name takes is %s, at its end (imap.%s)", ErrBadDomain, s, PlaceholderDomain, PlaceholderDomain)
	}
	if prefix != "" {
		// The labels must make a valid name with any domain: check them under one.
		if _, err := ParseDomain(prefix + "example.com"); err != nil {
			return HostPattern{}, fmt.Errorf("%w: %q: %s", ErrBadDomain, s, unwrapMsg(err))
		}
		prefix = strings.ToLower(prefix)
	}
	return HostPattern{prefix: prefix, perDomain: true}, nil
}

// PerDomain reports whether the name depends on the domain being served.
func (h HostPattern) PerDomain() bool { return h.perDomain }

// Prefix returns the labels a per-domain name puts before the domain, with their dot
// ("imap."); "" for a literal name or a bare %EMAILDOMAIN%.
func (h HostPattern) Prefix() string { return h.prefix }

// IsZero reports whether h is the zero HostPattern (no host).
func (h HostPattern) IsZero() bool { return h.literal.IsZero() && !h.perDomain }

// For returns the host name for the domain d: the literal name, or the pattern with d
// filled in. The validator makes sure every filled-in name is a valid one.
func (h HostPattern) For(d Domain) Domain {
	if !h.perDomain {
		return h.literal
	}
	return Domain{name: h.prefix + d.name}
}

// String returns the literal name, or the pattern as written (imap.%EMAILDOMAIN%).
func (h HostPattern) String() string {
	if h.perDomain {
		return h.prefix + PlaceholderDomain
	}
	return h.literal.String()
}

// MarshalText writes the name or pattern.
func (h HostPattern) MarshalText() ([]byte, error) { return []byte(h.String()), nil }

// UnmarshalText parses a name or pattern (ParseHostPattern).
func (h *HostPattern) UnmarshalText(b []byte) error {
	p, err := ParseHostPattern(string(b))
	if err != nil {
		if !strings.Contains(string(b), "%") {
			return fmt.Errorf("%q is not a valid hostname: %s", b, unwrapMsg(err))
		}
		return errors.New(unwrapMsg(err))
	}
	*h = p
	return nil
}

// LoginName returns the username the server expects from the owner of an address: the
// username pattern with its placeholder filled in, or the literal username.
func (s *Server) LoginName(a Address) string { return loginName(s.Username, a) }

// loginName fills a username's placeholder with the parts of address a.
func loginName(username string, a Address) string {
	switch username {
	case PlaceholderAddress, "":
		return a.String()
	case PlaceholderLocalPart:
		return a.LocalPart
	case PlaceholderDomain:
		return a.Domain.String()
	}
	return username
}

// ServerType is the protocol a server speaks.
type ServerType string

// Protocol types of a Server.
const (
	TypeIMAP ServerType = "imap"
	TypePOP3 ServerType = "pop3"
	TypeSMTP ServerType = "smtp"
)

// SocketType is the connection security of a server, spelled as autoconfig spells it.
type SocketType string

// Socket types, in the exact case Thunderbird requires.
const (
	SocketSSL      SocketType = "SSL"
	SocketSTARTTLS SocketType = "STARTTLS"
	SocketPlain    SocketType = "plain"
)

// Authentication is a login method, spelled as autoconfig spells it.
type Authentication string

// Authentication methods (Mozilla autoconfig names).
const (
	AuthPasswordCleartext Authentication = "password-cleartext"
	AuthPasswordEncrypted Authentication = "password-encrypted"
	AuthOAuth2            Authentication = "OAuth2"
	AuthClientIP          Authentication = "client-IP-address"
	AuthTLSClientCert     Authentication = "TLS-client-cert"
	AuthNone              Authentication = "none"
)

// Username placeholders a client substitutes.
const (
	PlaceholderAddress   = "%EMAILADDRESS%"
	PlaceholderLocalPart = "%EMAILLOCALPART%"
	PlaceholderDomain    = "%EMAILDOMAIN%"
)

// Documentation is a link to a page that helps users set up their client.
type Documentation struct {
	// URL is the absolute http or https address of the page.
	URL URL `yaml:"url"`
	// Description says what the page is about, plain or per language.
	Description Localized `yaml:"description"`
}

// Service is an SRV service name (RFC 6186 §3, RFC 8314 §5.1), without the underscore.
type Service string

// SRV services mailconf publishes.
const (
	ServiceIMAP        Service = "imap"
	ServiceIMAPS       Service = "imaps"
	ServicePOP3        Service = "pop3"
	ServicePOP3S       Service = "pop3s"
	ServiceSubmission  Service = "submission"
	ServiceSubmissions Service = "submissions"
	// ServiceAutodiscover is Outlook's Autodiscover host (MS-OXDSCLI §3.1.5.2).
	ServiceAutodiscover Service = "autodiscover"
)

// mailServices are the services a provider's servers publish, which not_offered may name.
var mailServices = []Service{ServiceIMAP, ServiceIMAPS, ServicePOP3, ServicePOP3S, ServiceSubmission, ServiceSubmissions}

// Owner returns the SRV owner name of the service under d, fully qualified:
// _<service>._tcp.<d>. (RFC 2782).
func (s Service) Owner(d Domain) string { return "_" + string(s) + "._tcp." + d.name + "." }

// longestOwner is the longest prefix DNS puts before a mail domain.
const longestOwner = "_" + string(ServiceAutodiscover) + "._tcp."

// UnmarshalText accepts the mail services a provider may mark as not offered.
func (s *Service) UnmarshalText(b []byte) error {
	for _, m := range mailServices {
		if string(b) == string(m) {
			*s = m
			return nil
		}
	}
	names := make([]string, len(mailServices))
	for i, m := range mailServices {
		names[i] = string(m)
	}
	return fmt.Errorf("%q is not a service name (%s)", b, strings.Join(names, ", "))
}

// SRVService returns the SRV service name that publishes this server: implicit TLS
// gets the "s" form (imaps, pop3s, submissions), STARTTLS and plain the bare form.
func (s *Server) SRVService() Service {
	tls := s.Socket == SocketSSL
	switch s.Type {
	case TypeIMAP:
		if tls {
			return ServiceIMAPS
		}
		return ServiceIMAP
	case TypePOP3:
		if tls {
			return ServicePOP3S
		}
		return ServicePOP3
	case TypeSMTP:
		if tls {
			return ServiceSubmissions
		}
		return ServiceSubmission
	}
	return ""
}
