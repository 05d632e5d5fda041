package check

import (
	"fmt"
	"strconv"
	"strings"
)

// ConnectTo sends connections for one host and port elsewhere while requests keep
// their Host and TLS server name: curl's --connect-to HOST1:PORT1:HOST2:PORT2. An
// empty HOST1 or PORT1 matches any; an empty HOST2 or PORT2 keeps the original.
type ConnectTo struct {
	FromHost, FromPort, ToHost, ToPort string
}

// ParseConnectTo parses HOST1:PORT1:HOST2:PORT2; IPv6 addresses go in brackets.
func ParseConnectTo(s string) (ConnectTo, error) {
	var fields []string
	rest := s
	for i := 0; i < 4; i++ {
		var f string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return ConnectTo{}, fmt.Errorf("%q: unclosed [", s)
			}
			f, rest = rest[1:end], rest[end+1:]
			if i < 3 && !strings.HasPrefix(rest, ":") {
				return ConnectTo{}, fmt.Errorf("%q: want HOST1:PORT1:HOST2:PORT2", s)
			}
			rest = strings.TrimPrefix(rest, ":")
		} else if i < 3 {
			var ok bool
			f, rest, ok = strings.Cut(rest, ":")
			if !ok {
				return ConnectTo{}, fmt.Errorf("%q: want HOST1:PORT1:HOST2:PORT2", s)
			}
		} else {
			f, rest = rest, ""
		}
		fields = append(fields, f)
	}
	if rest != "" || strings.Contains(fields[3], ":") {
		return ConnectTo{}, fmt.Errorf("%q: want HOST1:PORT1:HOST2:PORT2", s)
	}
	for _, p := range []string{fields[1], fields[3]} {
		if p == "" {
			continue
		}
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return ConnectTo{}, fmt.Errorf("%q: port %q is not 1..65535", s, p)
		}
	}
	return ConnectTo{FromHost: fields[0], FromPort: fields[1], ToHost: fields[2], ToPort: fields[3]}, nil
}

// String writes the rule back in curl's syntax.
func (c ConnectTo) String() string {
	b := func(h string) string {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return b(c.FromHost) + ":" + c.FromPort + ":" + b(c.ToHost) + ":" + c.ToPort
}

// apply returns where to connect for host and port under the first rule that matches
// (curl uses the first), and whether one did.
func apply(rules []ConnectTo, host, port string) (string, string, bool) {
	for _, r := range rules {
		if (r.FromHost == "" || strings.EqualFold(strings.TrimSuffix(r.FromHost, "."), strings.TrimSuffix(host, "."))) && (r.FromPort == "" || r.FromPort == port) {
			if r.ToHost != "" {
				host = r.ToHost
			}
			if r.ToPort != "" {
				port = r.ToPort
			}
			return host, port, true
		}
	}
	return host, port, false
}
