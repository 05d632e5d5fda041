package mailconf

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	// Providers are the mail providers served. An entry may be "builtin: qq.com" to
	// take a provider shipped in the binary as it is.
	Providers []Provider `yaml:"providers"`

	// Include are files of one provider each, by glob pattern (relative to this file's
	// directory), added after Providers in the order of the patterns and, within one,
	// of the file names. Each is checked with its own name and lines.
	Include []string `yaml:"include,omitempty"`

	// Autodiscover configures the Outlook Autodiscover answers.
	Autodiscover AutodiscoverConfig `yaml:"autodiscover,omitempty"`

	// DNS configures the authoritative DNS zones built from the providers.
	DNS DNSConfig `yaml:"dns,omitempty"`

	// HTTP configures the HTTP and HTTPS listeners' client handling.
	HTTP HTTPConfig `yaml:"http,omitempty"`

	// TLS configures the certificates of the HTTPS listener.
	TLS TLSConfig `yaml:"tls,omitempty"`

	// Profile configures the Apple configuration profiles (.mobileconfig).
	Profile ProfileConfig `yaml:"profile,omitempty"`
}

// ProfileConfig configures the Apple configuration profiles served at
// /email.mobileconfig.
type ProfileConfig struct {
	// CertFile and KeyFile are a PEM certificate chain and key that sign profiles, for
	// a signing certificate of its own. Default: the HTTPS certificate (files or ACME)
	// when mailconf has one; without any, profiles are served unsigned.
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`

	// Organization is written into every profile as PayloadOrganization. Default: the
	// provider's display name.
	Organization string `yaml:"organization,omitempty"`
}

// HTTPConfig configures how the HTTP listeners treat clients.
type HTTPConfig struct {
	// TrustedProxies are addresses or CIDR prefixes of reverse proxies whose
	// X-Forwarded-For header names the real client. Default: none; the header is then
	// ignored. A bare address is a /32 (IPv4) or /128 (IPv6) prefix.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies,omitempty"`

	// RateLimit is the sustained number of requests per second one client address may
	// make (IPv6: one /64); more get HTTP 429. Default 0: no limit.
	RateLimit float64 `yaml:"rate_limit,omitempty"`

	// RateBurst is how many requests above RateLimit a client may make at once.
	// Default: twice RateLimit (at least 1) when RateLimit is set.
	RateBurst int `yaml:"rate_burst,omitempty"`

	// MaxConnections is the most connections the HTTP listener, and the HTTPS listener,
	// each hold at once. At the cap the longest-idle connection is closed to make
	// room; with none idle, a new connection is closed at once. Default 4096.
	MaxConnections int `yaml:"max_connections,omitempty"`

	// MaxConnectionsPerClient is the most connections one client address (IPv6: one
	// /64) holds on each listener; trusted proxies are exempt. At the cap the client's
	// own longest-idle connection makes room. Default 64.
	MaxConnectionsPerClient int `yaml:"max_connections_per_client,omitempty"`

	// PublicURL is the address people reach this server at (https://mail.example.com),
	// for links that leave the page: the QR code that opens the profile on a phone.
	// Default: the scheme and host the request came on.
	PublicURL *URL `yaml:"public_url,omitempty"`

	// AdminMaxConnections is the admin listener's own cap (/metrics, /healthz,
	// /readyz), so operators can scrape and probe whatever the other listeners carry;
	// a quarter of it per client address. Default 64.
	AdminMaxConnections int `yaml:"admin_max_connections,omitempty"`
}

// TLSConfig configures the HTTPS listener's certificates: either files or ACME.
type TLSConfig struct {
	// CertFile and KeyFile are a PEM certificate chain and its private key. They are
	// re-read when they change on disk and on SIGHUP. The -tls-cert and -tls-key flags
	// override them.
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`

	// ACME, when set, obtains certificates automatically for autoconfig.<d> and
	// autodiscover.<d> of every configured domain, plus ExtraNames.
	ACME *ACMEConfig `yaml:"acme,omitempty"`
}

// ACMEConfig configures automatic certificates (RFC 8555).
type ACMEConfig struct {
	// Email is the account contact address the CA may write to about expiry. Optional.
	Email Address `yaml:"email,omitempty"`

	// DirectoryURL is the CA's ACME directory, an https URL. Default: Let's Encrypt
	// production.
	DirectoryURL *URL `yaml:"directory_url,omitempty"`

	// CAFile is a PEM file of roots to trust for the ACME server's own HTTPS, for
	// private or test CAs. Default: the system roots.
	CAFile string `yaml:"ca_file,omitempty"`

	// StateDir is where the account key and certificates are kept.
	// Default: /var/lib/mailconf/acme (systemd StateDirectory).
	StateDir string `yaml:"state_dir,omitempty"`

	// ExtraNames are further host names to get certificates for (for example the host
	// of autodiscover.url when it is not autodiscover.<domain>).
	ExtraNames []Domain `yaml:"extra_names,omitempty"`

	// AcceptTOS records that you accept the CA's terms of service. Required: true.
	AcceptTOS bool `yaml:"accept_tos"`
}

// AutodiscoverConfig configures the Outlook Autodiscover answers.
type AutodiscoverConfig struct {
	// URL is the canonical HTTPS Autodiscover URL
	// (https://autodiscover.example.com/autodiscover/autodiscover.xml). GET requests
	// are redirected there, the JSON v2 endpoint hands it out, and DNS publishes its
	// host in _autodiscover._tcp. Empty: derived per domain where needed.
	URL *URL `yaml:"url,omitempty"`

	// Host and Port are URL's host name and port (443 when the URL names none), set
	// when the configuration loads.
	Host Domain `yaml:"-"`
	Port uint16 `yaml:"-"`

	// MobilesyncAnswer says how to answer a mobilesync (ActiveSync) request: "" (the
	// default) answers error 601, "imap" answers with the IMAP/SMTP settings.
	MobilesyncAnswer string `yaml:"mobilesync_answer,omitempty"`

	// TTL is the number of hours Outlook may cache the answer. Default 1.
	TTL int `yaml:"ttl,omitempty"`
}

// DNSConfig configures the zones served for every configured domain.
type DNSConfig struct {
	// Nameservers are the NS records at every apex, most important first; the first is
	// the SOA MNAME. Default ns1.<primary domain of the first provider>.
	Nameservers []Domain `yaml:"nameservers,omitempty"`

	// NameserverAddresses gives the IPv4/IPv6 addresses of nameservers whose names lie
	// inside a served zone, so they resolve (the parent zone needs the same addresses as
	// glue). Default: when the nameservers are left at their default, the default one
	// gets Addresses.
	NameserverAddresses map[Domain][]netip.Addr `yaml:"nameserver_addresses,omitempty"`

	// Hostmaster is the responsible mailbox written into the SOA, as an address
	// (hostmaster@example.net). Default hostmaster@<first nameserver's parent>.
	Hostmaster Address `yaml:"hostmaster,omitempty"`

	// TTL is the TTL in seconds of every record except the negative-answer SOA.
	// Default 3600.
	TTL uint32 `yaml:"ttl,omitempty"`

	// NegativeTTL is the SOA MINIMUM: how long resolvers cache NXDOMAIN and NODATA
	// (RFC 2308 §4). Default 300.
	NegativeTTL uint32 `yaml:"negative_ttl,omitempty"`

	// Refresh, Retry and Expire are the SOA timers in seconds for secondaries.
	// Defaults 3600, 900 and 1209600.
	Refresh uint32 `yaml:"refresh,omitempty"`
	Retry   uint32 `yaml:"retry,omitempty"`
	Expire  uint32 `yaml:"expire,omitempty"`

	// Weight is the SRV weight of every published server (RFC 2782). Default 1; never
	// nil in a Catalog.
	Weight *uint16 `yaml:"weight,omitempty"`

	// Addresses are IPv4 and IPv6 addresses of this server. When set, autoconfig.<d>
	// and autodiscover.<d> get A/AAAA records pointing here, so a delegated zone
	// works end to end.
	Addresses []netip.Addr `yaml:"addresses,omitempty"`

	// Version, when set, answers CHAOS TXT version.bind and version.server;
	// otherwise those queries are REFUSED.
	Version string `yaml:"version,omitempty"`

	// ServerID, when set, answers CHAOS TXT id.server and hostname.bind; otherwise
	// those queries are REFUSED.
	ServerID string `yaml:"server_id,omitempty"`

	// TCPMaxConnections is the most DNS-over-TCP connections held at once. At the cap
	// the longest-idle connection is closed to make room. Default 1024.
	TCPMaxConnections int `yaml:"tcp_max_connections,omitempty"`

	// TCPMaxConnectionsPerClient is the most DNS-over-TCP connections one client
	// address (IPv6: one /64) holds. Default 32.
	TCPMaxConnectionsPerClient int `yaml:"tcp_max_connections_per_client,omitempty"`
}

// URL is an absolute http or https URL from the configuration, parsed once.
type URL struct{ *url.URL }

// MarshalText writes the URL.
func (u URL) MarshalText() ([]byte, error) {
	if u.URL == nil {
		return nil, nil
	}
	return []byte(u.URL.String()), nil
}

// UnmarshalText parses an absolute http or https URL with a host.
func (u *URL) UnmarshalText(b []byte) error {
	p, err := url.Parse(string(b))
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.Opaque != "" {
		return fmt.Errorf("%q is not an absolute http or https URL", b)
	}
	u.URL = p
	return nil
}

//go:embed builtin.yaml
var builtinYAML []byte

// BuiltinName is the name under which the built-in configuration is reported.
const BuiltinName = "builtin.yaml"

// Default returns the built-in configuration, loaded and validated.
func Default() (*Catalog, error) {
	return Parse(BuiltinName, builtinYAML)
}

// builtinProviders are the providers "builtin:" entries may name, decoded once. Each
// entry is checked like any other provider when a configuration takes it, on a copy
// (cloneProvider), since checking fills in defaults.
var builtinProviders = sync.OnceValues(func() (map[string]Provider, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(builtinYAML, &root); err != nil || len(root.Content) == 0 {
		return nil, fmt.Errorf("built-in configuration: %v", err)
	}
	v := newValidator(BuiltinName)
	var cfg Config
	v.root = root.Content[0]
	v.decode(v.root, "", reflect.ValueOf(&cfg).Elem())
	if v.errorCount() > 0 {
		return nil, fmt.Errorf("built-in configuration: %w", v.result())
	}
	m := make(map[string]Provider, len(cfg.Providers))
	for _, p := range cfg.Providers {
		m[p.ID.String()] = p
	}
	return m, nil
})

// cloneProvider copies p deeply enough that checking the copy leaves p alone.
func cloneProvider(p Provider) Provider {
	p.Domains = slices.Clone(p.Domains)
	p.Incoming = slices.Clone(p.Incoming)
	p.Outgoing = slices.Clone(p.Outgoing)
	p.NotOffered = slices.Clone(p.NotOffered)
	p.Documentation = slices.Clone(p.Documentation)
	p.DisplayName = slices.Clone(p.DisplayName)
	p.ShortName = slices.Clone(p.ShortName)
	p.Instructions = slices.Clone(p.Instructions)
	return p
}

// MaxConfigSize is the largest configuration file Load reads, in bytes.
const MaxConfigSize = 16 << 20

// ErrNotRegular is returned by Load for a path that is not a regular file (a FIFO, a
// device, a directory): reading one could block or never end.
var ErrNotRegular = errors.New("config: not a regular file")

// Load reads, parses and validates the configuration file at path. It refuses, before
// reading anything, a path that is not a regular file and a file larger than
// MaxConfigSize.
func Load(path string) (*Catalog, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// ReadFile reads a file of the configuration with the checks Load applies.
func ReadFile(path string) ([]byte, error) {
	// Opening a FIFO for reading blocks until a writer appears; a non-blocking open
	// returns at once, and the file's type is checked before anything is read.
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, fileKind(st.Mode()))
	}
	if st.Size() > MaxConfigSize {
		return nil, fmt.Errorf("config: %s has %d bytes, more than the %d allowed", path, st.Size(), MaxConfigSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("config: %s grew past %d bytes while being read", path, MaxConfigSize)
	}
	return data, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// Parse parses and validates a configuration; name is the file name used in
// messages. A configuration with problems returns a *ProblemList listing every one.
//
// The YAML is read into its node tree once, then decoded field by field into typed
// values (decode), so every value is parsed exactly once and every problem carries
// its line; check then validates the whole, fills in defaults and builds the Catalog.
func Parse(name string, data []byte) (*Catalog, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ProblemList{Problems: []Problem{{File: name, Line: yamlErrorLine(err), Message: cleanYAMLError(err)}}}
	}
	v := newValidator(name)
	if len(root.Content) == 0 {
		v.add("", "the file is empty: list at least one provider under providers")
		return nil, v.result()
	}
	var cfg Config
	v.root = root.Content[0]
	v.decode(v.root, "", reflect.ValueOf(&cfg).Elem())
	// Check even after decoding problems, so every problem is listed at once; values
	// that failed to decode are not reported again (validator.add).
	cat := v.check(&cfg)
	if v.errorCount() > 0 {
		return nil, v.result()
	}
	cat.Source = name
	return cat, nil
}

// Problem is one thing wrong in a configuration file.
type Problem struct {
	File    string
	Line    int    // 0 when unknown
	Field   string // dotted path such as providers[0].incoming[1].port; "" for the file
	Message string
	Warning bool // true for a doubtful but usable value
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ProblemList is the error returned for an invalid configuration.
type ProblemList struct {
	Problems []Problem
}

// ErrInvalidConfig is matched by errors.Is for every *ProblemList.
var ErrInvalidConfig = errors.New("mailconf: invalid configuration")

func (l *ProblemList) Error() string {
	lines := make([]string, len(l.Problems))
	for i, p := range l.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalidConfig) true.
func (l *ProblemList) Is(target error) bool { return target == ErrInvalidConfig }
