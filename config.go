package mailconf

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	// TCPZones makes _tcp.<d> the zone of every domain d, with its SOA and NS there,
	// so the owner of <d> can delegate _tcp.<d> alone and keep <d> where it is hosted.
	// autoconfig.<d> and autodiscover.<d> then lie outside every zone served and get no
	// A/AAAA records here. Default false: the zone is <d>.
	TCPZones bool `yaml:"tcp_zones,omitempty"`

	// Transfer says which secondary servers may copy the zones (AXFR, IXFR). Default:
	// none may.
	Transfer TransferConfig `yaml:"transfer,omitempty"`

	// Notify are the secondary servers sent a NOTIFY (RFC 1996) for every zone when the
	// zones change and at start, so they transfer the new version at once.
	Notify []NotifyTarget `yaml:"notify,omitempty"`

	// RateLimit limits the UDP answers one client network gets (response rate
	// limiting, as NSD and Knot do), so mailconf cannot be used to flood a third party
	// with answers to queries sent in its name.
	RateLimit DNSRateLimit `yaml:"rate_limit,omitempty"`
}

// TransferConfig says who may transfer the zones. With both Allow and Keys set, a
// client needs both: an allowed address and a valid signature.
type TransferConfig struct {
	// Allow are the addresses or CIDR prefixes that may transfer. A bare address is a
	// /32 or /128. Empty: any address, if the request is signed with one of Keys.
	Allow []netip.Prefix `yaml:"allow,omitempty"`

	// Keys are the TSIG keys (RFC 8945) that sign transfers. A request signed with one
	// of them gets signed answers. Empty: transfers go by address alone.
	Keys []TSIGKey `yaml:"keys,omitempty"`
}

// TSIGKey is a shared secret for TSIG (RFC 8945), the same as the secondary servers'.
type TSIGKey struct {
	// Name is the key's name, as the secondaries know it (xfr-key).
	Name KeyName `yaml:"name"`

	// Algorithm is hmac-sha256 (the default), hmac-sha512, hmac-sha384, hmac-sha224 or
	// hmac-sha1.
	Algorithm TSIGAlgorithm `yaml:"algorithm,omitempty"`

	// SecretFile is a file holding the secret in base64, as BIND's tsig-keygen, NSD's
	// nsd.conf and Knot's keymgr write it; lines starting with # are comments. A
	// relative path is relative to the configuration file's directory. It is read when
	// the configuration loads, and again at every reload.
	SecretFile string `yaml:"secret_file"`

	// Secret is the decoded secret, read from SecretFile when the configuration loads.
	Secret Secret `yaml:"-"`
}

// NotifyTarget is a secondary server to send NOTIFY messages to: "ADDRESS[:PORT]
// [KEY|NOKEY]", as NSD's notify option. The port defaults to 53. The messages are
// signed with the named key of dns.transfer.keys, by default the first; NOKEY sends
// them unsigned.
type NotifyTarget struct {
	Addr netip.AddrPort
	// Key names the key that signs; zero after loading: unsigned.
	Key KeyName
	// NoKey records that NOKEY was given.
	NoKey bool
}

// MarshalText writes the target as it is configured.
func (n NotifyTarget) MarshalText() ([]byte, error) {
	s := n.Addr.String()
	switch {
	case n.NoKey:
		s += " NOKEY"
	case !n.Key.IsZero():
		s += " " + n.Key.String()
	}
	return []byte(s), nil
}

// UnmarshalText parses "ADDRESS[:PORT] [KEY|NOKEY]".
func (n *NotifyTarget) UnmarshalText(b []byte) error {
	fields := strings.Fields(string(b))
	if len(fields) == 0 || len(fields) > 2 {
		return fmt.Errorf("%q: want ADDRESS[:PORT], then optionally a key name or NOKEY", b)
	}
	var t NotifyTarget
	if ap, err := netip.ParseAddrPort(fields[0]); err == nil && ap.Port() != 0 && ap.Addr().Zone() == "" {
		t.Addr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	} else if a, err := netip.ParseAddr(fields[0]); err == nil && a.Zone() == "" {
		t.Addr = netip.AddrPortFrom(a.Unmap(), 53)
	} else {
		return fmt.Errorf("%q is not an address, address:port or [IPv6 address]:port", fields[0])
	}
	if len(fields) == 2 {
		if fields[1] == "NOKEY" {
			t.NoKey = true
		} else if err := t.Key.UnmarshalText([]byte(fields[1])); err != nil {
			return err
		}
	}
	*n = t
	return nil
}

// KeyName is the name of a TSIG key: a domain name of letters, digits, hyphens and
// underscores, lowercase, without the final dot. Unlike a Domain it may have one label.
type KeyName struct{ name string }

// IsZero reports whether k is the zero KeyName.
func (k KeyName) IsZero() bool { return k.name == "" }

// String returns the name without the final dot.
func (k KeyName) String() string { return k.name }

// FQDN returns the name with the final dot, as it travels in DNS messages.
func (k KeyName) FQDN() string { return k.name + "." }

// MarshalText writes the name.
func (k KeyName) MarshalText() ([]byte, error) { return []byte(k.name), nil }

// UnmarshalText parses a key name, with or without the final dot.
func (k *KeyName) UnmarshalText(b []byte) error {
	s := strings.ToLower(strings.TrimSuffix(string(b), "."))
	if s == "" || len(s) > maxDomainLen {
		return fmt.Errorf("%q is not a key name: want 1 to %d characters", b, maxDomainLen)
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > maxLabelLen || strings.ContainsFunc(label, func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' || r == '_')
		}) {
			return fmt.Errorf("%q is not a key name: labels of 1 to %d letters, digits, hyphens and underscores", b, maxLabelLen)
		}
	}
	k.name = s
	return nil
}

// TSIGAlgorithm is an HMAC algorithm of TSIG (RFC 8945 §6), by its name without the
// final dot: hmac-sha256.
type TSIGAlgorithm string

// TSIG algorithms (RFC 8945 §6); HMAC-MD5 is not offered.
const (
	HMACSHA1   TSIGAlgorithm = "hmac-sha1"
	HMACSHA224 TSIGAlgorithm = "hmac-sha224"
	HMACSHA256 TSIGAlgorithm = "hmac-sha256"
	HMACSHA384 TSIGAlgorithm = "hmac-sha384"
	HMACSHA512 TSIGAlgorithm = "hmac-sha512"
)

// tsigAlgorithms are the algorithms offered, with their HMAC output sizes in bytes.
var tsigAlgorithms = map[TSIGAlgorithm]int{HMACSHA1: 20, HMACSHA224: 28, HMACSHA256: 32, HMACSHA384: 48, HMACSHA512: 64}

// UnmarshalText accepts the algorithms offered, in any letter case, with or without
// the final dot.
func (a *TSIGAlgorithm) UnmarshalText(b []byte) error {
	s := TSIGAlgorithm(strings.ToLower(strings.TrimSuffix(string(b), ".")))
	if _, ok := tsigAlgorithms[s]; !ok {
		return fmt.Errorf("%q is not hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1", b)
	}
	*a = s
	return nil
}

// Secret is key material. It never prints: logs and messages show "(secret)".
type Secret []byte

// String hides the secret.
func (Secret) String() string { return "(secret)" }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return "(secret)" }

// LogValue hides the secret from log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue("(secret)") }

// DNSRateLimit is response rate limiting: each client network (an IPv4 /24, an IPv6
// /64 by default) gets a budget of UDP answers per second; over it, every Slip-th
// answer goes out truncated (so a real resolver retries over TCP, which is not
// limited) and the others are dropped.
type DNSRateLimit struct {
	// ResponsesPerSecond is the budget of one client network; 0 turns rate limiting
	// off. Default 200, as NSD's. Never nil in a Catalog.
	ResponsesPerSecond *uint32 `yaml:"responses_per_second,omitempty"`

	// Slip says which answers over the budget are sent truncated: every Slip-th; 1 sends
	// all of them truncated, 0 drops them all. Default 2, as NSD's. Never nil in a
	// Catalog.
	Slip *uint32 `yaml:"slip,omitempty"`

	// IPv4PrefixLength and IPv6PrefixLength say how large a client network is.
	// Defaults 24 and 64, as NSD's.
	IPv4PrefixLength int `yaml:"ipv4_prefix_length,omitempty"`
	IPv6PrefixLength int `yaml:"ipv6_prefix_length,omitempty"`

	// Exempt are the addresses or prefixes never limited. Default: loopback
	// (127.0.0.0/8, ::1), which cannot be forged from the network, so local monitoring
	// and tests are not limited. [] limits loopback too.
	Exempt []netip.Prefix `yaml:"exempt"`
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
	p.PasswordHint = slices.Clone(p.PasswordHint)
	p.DomainsFrom = slices.Clone(p.DomainsFrom)
	p.Calendars = slices.Clone(p.Calendars)
	p.Contacts = slices.Clone(p.Contacts)
	p.OAuth2 = clonePointer(p.OAuth2)
	p.MTASTS = clonePointer(p.MTASTS)
	p.EnableURL = clonePointer(p.EnableURL)
	return p
}

// clonePointer returns a pointer to a copy of *v, nil for nil.
func clonePointer[T any](v *T) *T {
	if v == nil {
		return nil
	}
	c := *v
	return &c
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
