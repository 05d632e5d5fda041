package mailconf

import (
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MTASTSPolicy is an MTA-STS policy (RFC 8461 §3.2) and its TLS reporting addresses
// (RFC 8460 §3).
type MTASTSPolicy struct {
	// Mode is enforce, testing or none.
	Mode string `yaml:"mode"`
	// MX are the host names the domain's MX records may name: a name, or "*." and a
	// name for any single label in front of it. Required unless the mode is none.
	MX []string `yaml:"mx,omitempty"`
	// MaxAge is how long, in seconds, senders may cache the policy: at most 31557600
	// (a year). Default 604800 (a week).
	MaxAge int `yaml:"max_age,omitempty"`
	// ReportTo is where senders send TLS reports: a mailto: or https: URI, or a list of
	// them (RFC 8460 §3).
	ReportTo OneOrMore `yaml:"report_to,omitempty"`
}

// MTA-STS modes (RFC 8461 §5).
const (
	MTASTSEnforce = "enforce"
	MTASTSTesting = "testing"
	MTASTSNone    = "none"
)

// Limits of max_age (RFC 8461 §3.2).
const (
	MTASTSMaxAgeLimit   = 31557600
	defaultMTASTSMaxAge = 604800
)

// Text returns the policy file, CRLF-separated key/value pairs (RFC 8461 §3.2): the
// version first, then the mode, the MX patterns and max_age, each once.
func (m *MTASTSPolicy) Text() string {
	var b strings.Builder
	b.WriteString("version: STSv1\r\nmode: " + m.Mode + "\r\n")
	for _, mx := range m.MX {
		b.WriteString("mx: " + mx + "\r\n")
	}
	b.WriteString("max_age: " + strconv.Itoa(m.MaxAge) + "\r\n")
	return b.String()
}

// ID returns the policy's id for the _mta-sts TXT record: derived from the policy
// text, so that it changes exactly when the policy changes (RFC 8461 §3.1: 1 to 32
// letters and digits).
func (m *MTASTSPolicy) ID() string {
	sum := sha256.Sum256([]byte(m.Text()))
	return strings.TrimRight(base32.StdEncoding.EncodeToString(sum[:20]), "=")
}

// TXT returns the _mta-sts TXT record's text (RFC 8461 §3.1).
func (m *MTASTSPolicy) TXT() string { return "v=STSv1; id=" + m.ID() }

// ReportTXT returns the _smtp._tls TXT record's text (RFC 8460 §3), "" without
// report addresses.
func (m *MTASTSPolicy) ReportTXT() string {
	if len(m.ReportTo) == 0 {
		return ""
	}
	return "v=TLSRPTv1; rua=" + strings.Join(m.ReportTo, ",")
}

// MTASTSPrefix is the host that serves a domain's policy: mta-sts.<d> (RFC 8461 §3.3).
const MTASTSPrefix = "mta-sts."

// MTASTS returns mta-sts.<d>, the host that serves the policy of d.
func (d Domain) MTASTS() Domain { return Domain{name: MTASTSPrefix + d.name} }

// OneOrMore is a list of strings the configuration may give as one string.
type OneOrMore []string

// UnmarshalYAML accepts a string or a list of strings.
func (o *OneOrMore) UnmarshalYAML(n *yaml.Node) error {
	values, err := scalarOrList(n, "a string or a list of strings")
	if err != nil {
		return err
	}
	*o = values
	return nil
}

// scalarOrList returns the text of a scalar node, or of each scalar in a sequence;
// anything else is an error that says it wanted what.
func scalarOrList(n *yaml.Node, what string) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		out := make([]string, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, errors.New("want " + what)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, errors.New("want " + what)
}

// MarshalYAML writes one string as text, several as a list.
func (o OneOrMore) MarshalYAML() (any, error) {
	if len(o) == 1 {
		return o[0], nil
	}
	return []string(o), nil
}
