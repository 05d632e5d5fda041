package mailconf

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Errors returned by ParseAddress and NormalizeDomain; callers branch on them with errors.Is.
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
	// Domain is the lowercase A-label form of the part after the @.
	Domain string
}

// String returns local@domain.
func (a Address) String() string { return a.LocalPart + "@" + a.Domain }

// ParseAddress parses an addr-spec: a dot-atom or quoted-string local part
// (RFC 5322 §3.4.1, with UTF-8 allowed as in RFC 6531), an @, and a domain that
// NormalizeDomain accepts.
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
	d, err := NormalizeDomain(domain)
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

// NormalizeDomain returns the lowercase A-label (punycode) form of a domain name,
// without a trailing dot. It rejects names that are not valid hostnames
// (letters, digits and hyphens; RFC 1123 §2.1) and IP addresses.
func NormalizeDomain(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadDomain)
	}
	if len(s) > 4*maxDomainLen {
		return "", fmt.Errorf("%w: too long", ErrBadDomain)
	}
	if isASCII(s) {
		if !isLowerLDH(s) {
			s = strings.ToLower(s)
		}
	} else {
		if !utf8.ValidString(s) {
			return "", fmt.Errorf("%w: not UTF-8", ErrBadDomain)
		}
		ascii, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", fmt.Errorf("%w: %q: not a valid internationalized name", ErrBadDomain, s)
		}
		s = strings.ToLower(ascii)
	}
	if err := checkHostname(s); err != nil {
		return "", err
	}
	return s, nil
}

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
	if net.ParseIP(s) != nil {
		return fmt.Errorf("%w: %s is an IP address, not a name", ErrBadDomain, s)
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

// QueryParam returns the value of the first parameter called name (compared without
// regard to case) in a raw query string. It decodes %XX escapes but does not
// form-decode: FairEmail, GOA and Nextcloud send addresses raw, so a literal "+" must
// stay a plus (url.ParseQuery would turn it into a space), while %40 and %2B are
// decoded (Thunderbird URLSearchParams, Delta Chat). A value with a bad escape is
// reported as absent.
func QueryParam(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		key, value, _ := strings.Cut(pair, "=")
		if !strings.EqualFold(key, name) {
			continue
		}
		if strings.IndexByte(value, '%') < 0 {
			return value, true
		}
		v, err := url.PathUnescape(value)
		if err != nil {
			return "", false
		}
		return v, true
	}
	return "", false
}

// HostDomain reduces an HTTP Host header to a lowercase name: it strips the port and a
// trailing dot. It returns "" for a value that cannot be a domain. The result still has
// to be looked up; it may carry a prefix such as "autoconfig.".
func HostDomain(host string) string {
	if len(host) > maxDomainLen+8 {
		return ""
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if isLowerLDH(host) {
		return host
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			d, err := NormalizeDomain(host)
			if err != nil {
				return ""
			}
			return d
		}
	}
	return strings.ToLower(host)
}
