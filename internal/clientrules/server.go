package clientrules

import (
	"fmt"
	"strings"
)

// Server is a mail server as a client ends up using it, whatever document it came from.
type Server struct {
	Type     string // imap, pop3 or smtp
	Hostname string
	Port     int
	Socket   string // SSL, STARTTLS or plain; or SocketAnyTLS, SocketSTARTTLSOrPlain when the source cannot say
	Username string // as written: a placeholder, a literal or, from Autodiscover, the login name
	Auth     string // autoconfig's spelling; empty where the source has none
}

// Connection security values (autoconfig's spelling, exact case).
const (
	SocketSSL      = "SSL"
	SocketSTARTTLS = "STARTTLS"
	SocketPlain    = "plain"
	// SocketAnyTLS is what an Apple profile says with UseSSL: TLS, implicit or by
	// STARTTLS, which the device chooses.
	SocketAnyTLS = "SSL or STARTTLS"
	// SocketSTARTTLSOrPlain is what an RFC 6186 service without the "s" says
	// (_imap, _pop3, _submission): RFC 6186 §3.1–3.3.
	SocketSTARTTLSOrPlain = "STARTTLS or plain"
)

// Server types, lower case.
const (
	TypeIMAP = "imap"
	TypePOP3 = "pop3"
	TypeSMTP = "smtp"
)

// Incoming reports whether the server is an incoming (IMAP or POP3) one.
func (s Server) Incoming() bool { return s.Type == TypeIMAP || s.Type == TypePOP3 }

// String writes the server as people read it: "IMAP imap.example.com:993 SSL".
func (s Server) String() string {
	return fmt.Sprintf("%s %s:%d %s", strings.ToUpper(s.Type), s.Hostname, s.Port, s.Socket)
}

// SameEndpoint reports whether a and b are the same server: type, host (without regard
// to case or a final dot) and port equal, and securities that can be the same
// (SocketsAgree).
func SameEndpoint(a, b Server) bool {
	return a.Type == b.Type && a.Port == b.Port && SameHost(a.Hostname, b.Hostname) && SocketsAgree(a.Socket, b.Socket)
}

// SameHost compares host names as DNS does: without regard to ASCII case or a final dot.
func SameHost(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// SocketsAgree reports whether two readings of a server's security can describe the
// same server: equal, or one of them a reading that allows the other.
func SocketsAgree(a, b string) bool {
	if a == b {
		return true
	}
	allows := func(loose, exact string) bool {
		switch loose {
		case SocketAnyTLS:
			return exact == SocketSSL || exact == SocketSTARTTLS
		case SocketSTARTTLSOrPlain:
			return exact == SocketSTARTTLS || exact == SocketPlain
		}
		return false
	}
	return allows(a, b) || allows(b, a)
}

// Service returns the RFC 6186/8314 SRV service that publishes the server (imaps,
// imap, pop3s, pop3, submissions, submission), or "" for another type.
func (s Server) Service() string {
	base := map[string]string{TypeIMAP: "imap", TypePOP3: "pop3", TypeSMTP: "submission"}[s.Type]
	if base == "" {
		return ""
	}
	if s.Socket == SocketSSL {
		return base + "s"
	}
	return base
}

// ServiceServer returns how an RFC 6186 client reads a record of an SRV service: its
// type and security (RFC 6186 §3.1–3.3, RFC 8314 §5.1). ok is false for other services.
func ServiceServer(service string) (typ, socket string, ok bool) {
	switch service {
	case "imaps":
		return TypeIMAP, SocketSSL, true
	case "imap":
		return TypeIMAP, SocketSTARTTLSOrPlain, true
	case "pop3s":
		return TypePOP3, SocketSSL, true
	case "pop3":
		return TypePOP3, SocketSTARTTLSOrPlain, true
	case "submissions":
		return TypeSMTP, SocketSSL, true
	case "submission":
		return TypeSMTP, SocketSTARTTLSOrPlain, true
	}
	return "", "", false
}

// ValidHostname is the check Thunderbird and Thunderbird for Android apply to
// emailProvider@id and <domain>: dot-separated labels of letters, digits and hyphens.
func ValidHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
