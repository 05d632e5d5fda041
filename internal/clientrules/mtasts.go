package clientrules

// MTA-STS (RFC 8461) and TLS reporting (RFC 8460) records and policies, read by the
// grammar of the RFCs and held to what mailconf promises to write (CRLF line ends,
// no duplicate or unknown keys), which is stricter than what senders accept.

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Policy is a parsed MTA-STS policy file.
type Policy struct {
	Mode   string
	MX     []string
	MaxAge int
}

// maxPolicySize is the limit senders apply to a policy body (RFC 8461 §3.3 suggests
// 64 KiB; postfix-mta-sts-resolver enforces it).
const maxPolicySize = 64 << 10

// MTASTSPolicy parses a policy file (RFC 8461 §3.2): "key: value" lines ending in
// CRLF, version STSv1 first, mode, max_age (at most 31557600) and the mx patterns
// ("*." and a name, or a name; required unless the mode is none), no key but mx twice
// and no other keys.
func MTASTSPolicy(body []byte) (*Policy, error) {
	if len(body) > maxPolicySize {
		return nil, fmt.Errorf("%d bytes; senders stop at %d", len(body), maxPolicySize)
	}
	text := string(body)
	if !strings.HasSuffix(text, "\r\n") {
		return nil, errors.New("the last line does not end in CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	p := &Policy{}
	seen := map[string]bool{}
	for i, line := range lines {
		if strings.ContainsAny(line, "\r\n") {
			return nil, fmt.Errorf("line %d: a bare CR or LF", i+1)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d %q: no colon", i+1, line)
		}
		// field-delim = ":" *WSP; the value runs to the line end, without trailing space.
		value = strings.TrimLeft(value, " \t")
		if strings.TrimRight(value, " \t") != value {
			return nil, fmt.Errorf("line %d: trailing space", i+1)
		}
		if key != "mx" && seen[key] {
			return nil, fmt.Errorf("line %d: %s given twice (senders take the first, postfix-mta-sts-resolver the last)", i+1, key)
		}
		seen[key] = true
		if i == 0 && key != "version" {
			return nil, fmt.Errorf("the first line is %q, not the version", line)
		}
		switch key {
		case "version":
			if value != "STSv1" {
				return nil, fmt.Errorf("version %q, want STSv1", value)
			}
		case "mode":
			switch value {
			case "enforce", "testing", "none":
				p.Mode = value
			default:
				return nil, fmt.Errorf("mode %q is not enforce, testing or none", value)
			}
		case "max_age":
			n, err := strconv.Atoi(value)
			if err != nil || len(value) > 10 || strings.Trim(value, "0123456789") != "" || n > 31557600 {
				return nil, fmt.Errorf("max_age %q is not 1 to 10 digits of at most 31557600", value)
			}
			p.MaxAge = n
		case "mx":
			if !ValidHostname(strings.TrimPrefix(value, "*.")) {
				return nil, fmt.Errorf("mx %q is not a name or *. and a name", value)
			}
			p.MX = append(p.MX, value)
		default:
			return nil, fmt.Errorf("line %d: key %q, which mailconf never writes", i+1, key)
		}
	}
	switch {
	case p.Mode == "":
		return nil, errors.New("no mode")
	case !seen["max_age"]:
		return nil, errors.New("no max_age")
	case len(p.MX) == 0 && p.Mode != "none":
		return nil, errors.New("no mx, which only mode none may omit")
	}
	return p, nil
}

// MTASTSRecord reads a _mta-sts TXT record (RFC 8461 §3.1): "v=STSv1" first, then
// fields split by ";" with optional space around it, among them exactly one
// id of 1 to 32 letters and digits. It returns the id.
func MTASTSRecord(txt string) (string, error) {
	fields, err := splitFields(txt, "v=STSv1")
	if err != nil {
		return "", err
	}
	id := ""
	for _, f := range fields {
		v, ok := strings.CutPrefix(f, "id=")
		if !ok {
			continue
		}
		if id != "" {
			return "", errors.New("two id fields")
		}
		if len(v) < 1 || len(v) > 32 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return "", fmt.Errorf("id %q is not 1 to 32 letters and digits", v)
		}
		id = v
	}
	if id == "" {
		return "", errors.New("no id")
	}
	return id, nil
}

// TLSRPTRecord reads a _smtp._tls TXT record (RFC 8460 §3): "v=TLSRPTv1" first, then
// exactly one rua field of comma-separated mailto: and https: URIs. It returns them.
func TLSRPTRecord(txt string) ([]string, error) {
	fields, err := splitFields(txt, "v=TLSRPTv1")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, f := range fields {
		v, ok := strings.CutPrefix(f, "rua=")
		if !ok {
			continue
		}
		if out != nil {
			return nil, errors.New("two rua fields")
		}
		for _, uri := range strings.Split(v, ",") {
			uri = strings.Trim(uri, " \t")
			u, err := url.Parse(uri)
			if err != nil || (u.Scheme != "mailto" && u.Scheme != "https") || (u.Scheme == "mailto" && !strings.Contains(u.Opaque, "@")) || (u.Scheme == "https" && u.Host == "") {
				return nil, fmt.Errorf("rua URI %q is neither a mailto: nor an https: URI", uri)
			}
			out = append(out, uri)
		}
	}
	if out == nil {
		return nil, errors.New("no rua")
	}
	return out, nil
}

// splitFields splits a "v=...; k=v; ..." record, whose first field must be version.
func splitFields(txt, version string) ([]string, error) {
	parts := strings.Split(txt, ";")
	for i := range parts {
		parts[i] = strings.Trim(parts[i], " \t")
	}
	if parts[0] != version {
		return nil, fmt.Errorf("%q does not start with %s", txt, version)
	}
	if parts[len(parts)-1] == "" { // a trailing delimiter is allowed
		parts = parts[:len(parts)-1]
	}
	for _, f := range parts[1:] {
		if !strings.Contains(f, "=") {
			return nil, fmt.Errorf("field %q is not key=value", f)
		}
	}
	return parts[1:], nil
}
