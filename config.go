package mailconf

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	// Providers are the mail providers served. An entry may be "builtin: qq.com" to
	// take a provider shipped in the binary as it is.
	Providers []Provider `yaml:"providers"`

	// Autodiscover configures the Outlook Autodiscover answers.
	Autodiscover AutodiscoverConfig `yaml:"autodiscover,omitempty"`

	// DNS configures the authoritative DNS zones built from the providers.
	DNS DNSConfig `yaml:"dns,omitempty"`
}

// AutodiscoverConfig configures the Outlook Autodiscover answers.
type AutodiscoverConfig struct {
	// URL is the canonical HTTPS Autodiscover URL
	// (https://autodiscover.example.com/autodiscover/autodiscover.xml). GET requests
	// are redirected there, the JSON v2 endpoint hands it out, and DNS publishes its
	// host in _autodiscover._tcp. Empty: derived per domain where needed.
	URL string `yaml:"url,omitempty"`

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
	Nameservers []string `yaml:"nameservers,omitempty"`

	// Hostmaster is the responsible mailbox written into the SOA, as an address
	// (hostmaster@example.net). Default hostmaster@<first nameserver's parent>.
	Hostmaster string `yaml:"hostmaster,omitempty"`

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

	// Weight is the SRV weight of every published server (RFC 2782). Default 1.
	Weight *uint16 `yaml:"weight,omitempty"`

	// Addresses are IPv4 and IPv6 addresses of this server. When set, autoconfig.<d>
	// and autodiscover.<d> get A/AAAA records pointing here, so a delegated zone
	// works end to end.
	Addresses []string `yaml:"addresses,omitempty"`

	// Version, when set, answers CHAOS TXT version.bind and version.server;
	// otherwise those queries are REFUSED.
	Version string `yaml:"version,omitempty"`

	// ServerID, when set, answers CHAOS TXT id.server and hostname.bind; otherwise
	// those queries are REFUSED.
	ServerID string `yaml:"server_id,omitempty"`
}

//go:embed builtin.yaml
var builtinYAML []byte

// BuiltinName is the name under which the built-in configuration is reported.
const BuiltinName = "builtin.yaml"

// BuiltinYAML returns the configuration compiled into the binary: the QQ Mail
// provider, written in the same format as a user's configuration file.
func BuiltinYAML() []byte { return bytes.Clone(builtinYAML) }

// Default returns the built-in configuration, loaded and validated.
func Default() (*Catalog, error) {
	return Parse(BuiltinName, builtinYAML)
}

// builtinProviders are the providers "builtin:" entries may name.
func builtinProviders() (map[string]Provider, error) {
	var cfg Config
	if err := yaml.Unmarshal(builtinYAML, &cfg); err != nil {
		return nil, fmt.Errorf("built-in configuration: %w", err)
	}
	m := make(map[string]Provider, len(cfg.Providers))
	for _, p := range cfg.Providers {
		m[p.ID] = p
	}
	return m, nil
}

// Load reads, parses and validates the configuration file at path.
func Load(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, maxConfigSize)
	}
	return Parse(path, data)
}

const maxConfigSize = 16 << 20

// Parse parses and validates a configuration; name is the file name used in
// messages. A configuration with problems returns a *ProblemList listing every one.
func Parse(name string, data []byte) (*Catalog, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ProblemList{Problems: []Problem{{File: name, Line: yamlErrorLine(err), Message: cleanYAMLError(err)}}}
	}
	v := &validator{file: name, lines: map[string]int{}}
	if len(root.Content) == 0 {
		v.add("", "the file is empty: list at least one provider under providers")
		return nil, v.result()
	}
	doc := root.Content[0]
	v.walk(doc, "", typeOfConfig)
	var cfg Config
	if len(v.problems) == 0 {
		if err := doc.Decode(&cfg); err != nil {
			v.addYAMLError(err)
		}
	}
	if len(v.problems) > 0 {
		return nil, v.result()
	}
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
