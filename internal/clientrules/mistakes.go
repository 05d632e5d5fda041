package clientrules

import (
	"fmt"
	"strings"
)

// MistakeID names a wrong setting that widely copied setup guides spread
// (docs/qq-mail.md, "Mistakes in circulation"). A document that holds one is accepted
// by every client, and then the account does not work.
type MistakeID string

// The mistakes, each with what is wrong.
const (
	// MistakePortOfOtherProtocol: a server on a port that belongs to another protocol,
	// such as IMAP on 995 (POP3 over TLS) or POP3 on 465 (submission over TLS).
	MistakePortOfOtherProtocol MistakeID = "port-of-another-protocol"
	// MistakeHostOfOtherProtocol: a server whose host name names another protocol,
	// such as IMAP on pop.qq.com.
	MistakeHostOfOtherProtocol MistakeID = "host-of-another-protocol"
	// MistakeSSLOnSTARTTLSPort: SSL (implicit TLS) on 143, 110, 587 or 25, the ports
	// of plain connections upgraded with STARTTLS ("143 and 110 with SSL").
	MistakeSSLOnSTARTTLSPort MistakeID = "ssl-on-starttls-port"
	// MistakeSTARTTLSOnSSLPort: STARTTLS on 993, 995 or 465, where TLS starts with the
	// first byte.
	MistakeSTARTTLSOnSSLPort MistakeID = "starttls-on-ssl-port"
	// MistakeSocketSpelling: a socketType other than exactly SSL, STARTTLS or plain
	// ("TLS", "ssl"): Thunderbird skips the server, Thunderbird for Android rejects the
	// whole file.
	MistakeSocketSpelling MistakeID = "socket-type-spelling"
)

// Mistake is one mistake found in one server.
type Mistake struct {
	ID     MistakeID
	Server Server
	// Other is what the port or host name belongs to ("pop3" for IMAP on 995), or
	// the socket type the port wants ("SSL" for STARTTLS on 993).
	Other string
	// Want is the setting that is right: the port of this type and security (993),
	// or the socketType spelled right.
	Want string
}

// String says what is wrong, in English, for tests and logs.
func (m Mistake) String() string {
	switch m.ID {
	case MistakePortOfOtherProtocol:
		return fmt.Sprintf("%s on port %d, which is %s's; %s with %s uses %s", strings.ToUpper(m.Server.Type), m.Server.Port, strings.ToUpper(m.Other), strings.ToUpper(m.Server.Type), m.Server.Socket, m.Want)
	case MistakeHostOfOtherProtocol:
		return fmt.Sprintf("%s on %s, a host named for %s", strings.ToUpper(m.Server.Type), m.Server.Hostname, strings.ToUpper(m.Other))
	case MistakeSSLOnSTARTTLSPort:
		return fmt.Sprintf("SSL on port %d, a STARTTLS port; %s with SSL uses %s", m.Server.Port, strings.ToUpper(m.Server.Type), m.Want)
	case MistakeSTARTTLSOnSSLPort:
		return fmt.Sprintf("STARTTLS on port %d, where TLS starts at once: socketType SSL", m.Server.Port)
	case MistakeSocketSpelling:
		return fmt.Sprintf("socketType %q: write %s", m.Server.Socket, m.Want)
	}
	return string(m.ID)
}

// wellKnown are the IANA ports of the mail protocols with the security each implies
// (RFC 8314 §7.3 for 993, 995 and 465; RFC 6409 for 587; RFC 5321 for 25).
var wellKnown = map[int]struct{ typ, socket string }{
	143: {TypeIMAP, SocketSTARTTLS},
	993: {TypeIMAP, SocketSSL},
	110: {TypePOP3, SocketSTARTTLS},
	995: {TypePOP3, SocketSSL},
	25:  {TypeSMTP, SocketSTARTTLS},
	587: {TypeSMTP, SocketSTARTTLS},
	465: {TypeSMTP, SocketSSL},
}

// StandardPort returns the port a server of the type and security uses by default:
// 993, 143, 995, 110, 465 or 587 (plain takes the STARTTLS port); 0 if unknown.
func StandardPort(typ, socket string) int {
	ssl := socket == SocketSSL
	switch typ {
	case TypeIMAP:
		if ssl {
			return 993
		}
		return 143
	case TypePOP3:
		if ssl {
			return 995
		}
		return 110
	case TypeSMTP:
		if ssl {
			return 465
		}
		return 587
	}
	return 0
}

// Mistakes returns the mistakes in circulation that a server shows. Servers of other
// types, and unknown ports, show none.
func Mistakes(s Server) []Mistake {
	if s.Type != TypeIMAP && s.Type != TypePOP3 && s.Type != TypeSMTP {
		return nil
	}
	var out []Mistake
	switch s.Socket {
	case SocketSSL, SocketSTARTTLS, SocketPlain, SocketAnyTLS, SocketSTARTTLSOrPlain:
	case "":
	default:
		want := SocketSSL
		switch strings.ToLower(strings.TrimSpace(s.Socket)) {
		case "starttls":
			want = SocketSTARTTLS
		case "plain", "none":
			want = SocketPlain
		case "tls":
			// "TLS" in guides means TLS from the first byte as often as STARTTLS; the
			// port decides.
			if k, ok := wellKnown[s.Port]; ok && k.socket == SocketSTARTTLS {
				want = SocketSTARTTLS
			}
		}
		out = append(out, Mistake{ID: MistakeSocketSpelling, Server: s, Want: want})
	}
	if k, ok := wellKnown[s.Port]; ok {
		// SMTP on 25 and 587 are both submission ports; only another type is wrong.
		if k.typ != s.Type {
			socket := s.Socket
			if socket != SocketSSL && socket != SocketSTARTTLS && socket != SocketPlain {
				socket = k.socket
			}
			out = append(out, Mistake{ID: MistakePortOfOtherProtocol, Server: s, Other: k.typ, Want: fmt.Sprint(StandardPort(s.Type, socket))})
		} else {
			switch {
			case s.Socket == SocketSSL && k.socket == SocketSTARTTLS:
				out = append(out, Mistake{ID: MistakeSSLOnSTARTTLSPort, Server: s, Other: SocketSTARTTLS, Want: fmt.Sprint(StandardPort(s.Type, SocketSSL))})
			case (s.Socket == SocketSTARTTLS || s.Socket == SocketPlain || s.Socket == SocketSTARTTLSOrPlain) && k.socket == SocketSSL:
				out = append(out, Mistake{ID: MistakeSTARTTLSOnSSLPort, Server: s, Other: SocketSSL, Want: SocketSSL})
			}
		}
	}
	if other := hostProtocol(s.Hostname); other != "" && other != s.Type {
		out = append(out, Mistake{ID: MistakeHostOfOtherProtocol, Server: s, Other: other})
	}
	return out
}

// hostProtocol returns the protocol a host name's first label names (imap.x, pop.x,
// pop3.x, smtp.x), or "".
func hostProtocol(host string) string {
	first, _, _ := strings.Cut(strings.ToLower(host), ".")
	switch first {
	case "imap", "imap4":
		return TypeIMAP
	case "pop", "pop3":
		return TypePOP3
	case "smtp":
		return TypeSMTP
	}
	return ""
}
