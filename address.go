package mailconf

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Errors returned by ParseAddress and ParseDomain; callers branch on them with errors.Is.
var (
	ErrBadAddress = errors.New("mailconf: invalid email address")
	ErrBadDomain  = errors.New("mailconf: invalid domain name")
)

// Limits on addresses and names.
const (
	maxAddressLen = 254 // RFC 5321 §4.5.3.1.3 (path, less the angle brackets)
	maxLocalLen   = 64  // RFC 5321 §4.5.3.1.1
	maxDomainLen  = 253 // RFC 1035 §2.3.4, without the trailing dot
	maxLabelLen   = 63  // RFC 1035 §2.3.4
)

// Address is a parsed email address whose domain is normalized.
type Address struct {
	// LocalPart is the part before the @, as given (quotes kept).
	LocalPart string
	// Domain is the part after the @.
	Domain Domain
}

// String returns local@domain.
func (a Address) String() string { return a.LocalPart + "@" + a.Domain.name }

// IsZero reports whether a is the zero Address (no address).
func (a Address) IsZero() bool { return a.LocalPart == "" && a.Domain.IsZero() }

// MarshalText writes the address as local@domain.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses an address (ParseAddress).
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return fmt.Errorf("%q is not an email address: %s", b, unwrapMsg(err))
	}
	*a = p
	return nil
}

// ParseAddress parses an addr-spec: a dot-atom or quoted-string local part
// (RFC 5322 §3.4.1, with UTF-8 allowed as in RFC 6531), an @, and a domain that
// ParseDomain accepts.
func ParseAddress(s string) (Address, error) {
	if len(s) > maxAddressLen {
		return Address{}, fmt.Errorf("%w: longer than %d bytes", ErrBadAddress, maxAddressLen)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return Address{}, fmt.Errorf("%w: no local part and domain", ErrBadAddress)
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocalPart(local); err != nil {
		return Address{}, err
	}
	d, err := ParseDomain(domain)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %w", ErrBadAddress, err)
	}
	return Address{LocalPart: local, Domain: d}, nil
}

func checkLocalPart(s string) error {
	if len(s) > maxLocalLen {
		return fmt.Errorf("%w: local part longer than %d bytes", ErrBadAddress, maxLocalLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: local part is not UTF-8", ErrBadAddress)
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return checkQuoted(s[1 : len(s)-1])
	}
	// dot-atom: atoms of atext separated by single dots.
	prevDot := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return fmt.Errorf("%w: empty atom in local part", ErrBadAddress)
			}
			prevDot = true
			continue
		case c >= 0x80: // RFC 6531 UTF8-non-ascii
		case !isAtext(c):
			return fmt.Errorf("%w: character %q not allowed in an unquoted local part", ErrBadAddress, c)
		}
		prevDot = false
	}
	if prevDot {
		return fmt.Errorf("%w: local part ends with a dot", ErrBadAddress)
	}
	return nil
}

// checkQuoted checks the inside of a quoted-string: printable text and quoted pairs,
// no control characters (RFC 5322 §3.2.4).
func checkQuoted(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character in local part", ErrBadAddress)
		}
		if c == '\\' {
			i++
			if i == len(s) || s[i] < 0x20 || s[i] == 0x7f {
				return fmt.Errorf("%w: bad quoted pair in local part", ErrBadAddress)
			}
			continue
		}
		if c == '"' {
			return fmt.Errorf("%w: unescaped quote in local part", ErrBadAddress)
		}
	}
	return nil
}

// isAtext reports whether c is an RFC 5322 §3.2.3 atext character.
func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// Domain is a DNS name in normal form: lowercase A-labels (punycode), no trailing
// dot, RFC 1123 §2.1 hostname syntax, at least two labels, not an IP address. Only
// ParseDomain makes one, so a Domain is always valid; the zero Domain means none.
type Domain struct{ name string }

// ParseDomain returns the normal form of a domain name given in ASCII or Unicode, with
// or without a trailing dot. It rejects names that are not valid hostnames (letters,
// digits and hyphens; RFC 1123 §2.1) and IP addresses.
func ParseDomain(s string) (Domain, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return Domain{}, fmt.Errorf("%w: empty", ErrBadDomain)
	}
	if len(s) > 4*maxDomainLen {
		return Domain{}, fmt.Errorf("%w: too long", ErrBadDomain)
	}
	if isASCII(s) {
		if !isLowerLDH(s) {
			s = strings.ToLower(s)
		}
	} else {
		if !utf8.ValidString(s) {
			return Domain{}, fmt.Errorf("%w: not UTF-8", ErrBadDomain)
		}
		ascii, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return Domain{}, fmt.Errorf("%w: %q: not a valid internationalized name", ErrBadDomain, s)
		}
		s = strings.ToLower(ascii)
	}
	if err := checkHostname(s); err != nil {
		return Domain{}, err
	}
	return Domain{name: s}, nil
}

// String returns the name in ASCII (A-label) form, without a trailing dot.
func (d Domain) String() string { return d.name }

// IsZero reports whether d is the zero Domain.
func (d Domain) IsZero() bool { return d.name == "" }

// FQDN returns the name with the trailing dot DNS messages and zone files use.
func (d Domain) FQDN() string { return d.name + "." }

// Unicode returns the name for people to read: IDNA A-labels turned back into Unicode.
func (d Domain) Unicode() string {
	if !strings.Contains(d.name, "xn--") {
		return d.name
	}
	u, err := idna.Display.ToUnicode(d.name)
	if err != nil {
		return d.name
	}
	return u
}

// Compare orders domains by their ASCII form.
func (d Domain) Compare(e Domain) int { return strings.Compare(d.name, e.name) }

// MarshalText writes the ASCII form.
func (d Domain) MarshalText() ([]byte, error) { return []byte(d.name), nil }

// UnmarshalText parses a name with ParseDomain. A name with a placeholder is refused
// with its own message: only server host names take one (HostPattern).
func (d *Domain) UnmarshalText(b []byte) error {
	s := string(b)
	if strings.Contains(s, "%") {
		return fmt.Errorf("%q: names here must be literal; only server hostnames take %s", s, PlaceholderDomain)
	}
	p, err := ParseDomain(s)
	if err != nil {
		return fmt.Errorf("%q is not a valid hostname: %s", s, unwrapMsg(err))
	}
	*d = p
	return nil
}

// Names that clients look up under a mail domain <d>.
const (
	// AutoconfigPrefix is how Mozilla autoconfig clients name the configuration host:
	// autoconfig.<d>.
	AutoconfigPrefix = "autoconfig."
	// AutodiscoverPrefix is how Outlook names the Autodiscover host: autodiscover.<d>.
	AutodiscoverPrefix = "autodiscover."
)

// Autoconfig returns autoconfig.<d>, the host autoconfig clients ask first.
func (d Domain) Autoconfig() Domain { return Domain{name: AutoconfigPrefix + d.name} }

// Autodiscover returns autodiscover.<d>, the host Outlook asks.
func (d Domain) Autodiscover() Domain { return Domain{name: AutodiscoverPrefix + d.name} }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// isLowerLDH reports whether s holds only lowercase letters, digits, hyphens and dots,
// the form that needs no IDNA mapping.
func isLowerLDH(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// checkHostname checks an ASCII lowercase name against RFC 1123 §2.1 hostname syntax.
func checkHostname(s string) error {
	if len(s) > maxDomainLen {
		return fmt.Errorf("%w: longer than %d characters", ErrBadDomain, maxDomainLen)
	}
	// Only digits and dots, or a colon, can make an address; the check skips net.ParseIP
	// (which allocates its error) for every name on the request path.
	if strings.Trim(s, "0123456789.") == "" || strings.IndexByte(s, ':') >= 0 {
		if net.ParseIP(s) != nil {
			return fmt.Errorf("%w: %s is an IP address, not a name", ErrBadDomain, s)
		}
	}
	labels := 0
	for label := range strings.SplitSeq(s, ".") {
		labels++
		switch {
		case label == "":
			return fmt.Errorf("%w: empty label in %q", ErrBadDomain, s)
		case len(label) > maxLabelLen:
			return fmt.Errorf("%w: label longer than %d characters", ErrBadDomain, maxLabelLen)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("%w: label %q starts or ends with a hyphen", ErrBadDomain, label)
		}
		if !isLowerLDH(label) {
			return fmt.Errorf("%w: %q has characters other than letters, digits and hyphens", ErrBadDomain, s)
		}
	}
	if labels < 2 {
		return fmt.Errorf("%w: %q is not a fully qualified name", ErrBadDomain, s)
	}
	return nil
}
