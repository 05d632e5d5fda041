package check

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// probe is one mail server contacted with -connect.
type probe struct {
	server clientrules.Server
	result *result
}

// serversToProbe returns every distinct server the views name. A loose reading (the
// profile's "SSL or STARTTLS", an SRV record's "STARTTLS or plain") is taken as the
// exact security another view gives the same server, else as the port implies.
func (c *checker) serversToProbe() []clientrules.Server {
	var exact, loose []clientrules.Server
	for _, v := range c.views {
		for _, s := range append(append([]clientrules.Server(nil), v.incoming...), v.outgoing...) {
			switch s.Socket {
			case clientrules.SocketSSL, clientrules.SocketSTARTTLS, clientrules.SocketPlain:
				exact = append(exact, s)
			default:
				loose = append(loose, s)
			}
		}
	}
	var out []clientrules.Server
	add := func(s clientrules.Server) {
		for _, o := range out {
			if clientrules.SameEndpoint(o, s) {
				return
			}
		}
		out = append(out, s)
	}
	for _, s := range exact {
		add(s)
	}
	for _, s := range loose {
		if s.Socket == clientrules.SocketAnyTLS {
			s.Socket = socketName(s.Socket, strconv.Itoa(s.Port))
		}
		// "STARTTLS or plain" stays: STARTTLS is tried, and its absence is a warning.
		add(s)
	}
	return out
}

// probeServers contacts every server at once, each within the step timeout.
func (c *checker) probeServers(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range c.serversToProbe() {
		p := &probe{server: s}
		c.probes = append(c.probes, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.result = c.probe(ctx, s)
		}()
	}
	wg.Wait()
}

// judgeServers reports the probes, or why there are none.
func (c *checker) judgeServers() []Step {
	if !c.o.Connect {
		r := &result{id: "server.connect", asked: c.t("asked.connect")}
		r.add(issue{StatusSkip, "", c.t("found.connect-not-asked"), ""})
		return []Step{r.step()}
	}
	if len(c.probes) == 0 {
		r := &result{id: "server.connect", asked: c.t("asked.connect")}
		r.add(issue{StatusSkip, "", c.t("found.connect-nothing"), ""})
		return []Step{r.step()}
	}
	var steps []Step
	for _, p := range c.probes {
		steps = append(steps, p.result.step())
	}
	return steps
}

// maxLine bounds a line read from a mail server.
const maxLine = 4096

// probe connects to one server as its clients do, completes TLS (at once, or after
// STARTTLS), checks the certificate and that the greeting is the protocol's, and
// leaves without logging in.
func (c *checker) probe(ctx context.Context, s clientrules.Server) *result {
	port := strconv.Itoa(s.Port)
	typ := strings.ToUpper(s.Type)
	r := &result{id: "server." + s.Type + "." + strings.ToLower(s.Hostname) + ":" + port, asked: fmt.Sprintf("%s:%d (%s, %s)", s.Hostname, s.Port, typ, s.Socket)}
	ctx, cancel := context.WithTimeout(ctx, c.o.StepTimeout)
	defer cancel()
	raw, err := c.net.dial(ctx, "tcp", net.JoinHostPort(s.Hostname, port))
	if err != nil {
		r.add(c.mailConnectionIssue(err, s))
		return r
	}
	defer raw.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(d)
	}
	var conn net.Conn = raw
	var state *tls.ConnectionState
	rd := bufio.NewReaderSize(conn, maxLine)
	handshake := func() bool {
		tc := tls.Client(raw, &tls.Config{ServerName: s.Hostname, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		if err := tc.HandshakeContext(ctx); err != nil {
			var rh tls.RecordHeaderError
			var ne net.Error
			if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
				r.add(c.mailConnectionIssue(err, s))
			} else if errors.As(err, &rh) {
				// A server that speaks first in plain text: its greeting is in the header.
				r.add(issue{StatusFail, "no-tls", c.t("found.no-tls-greeting", clean(string(rh.RecordHeader[:]), 5)),
					c.t("fix.no-tls", s.Port, typ, clientrules.StandardPort(s.Type, clientrules.SocketSSL))})
			} else {
				r.add(issue{StatusFail, "tls-handshake", c.t("found.tls-handshake", clean(err.Error(), 160)), c.t("fix.mail-tls", s.Hostname, s.Port)})
			}
			return false
		}
		st := tc.ConnectionState()
		state = &st
		conn = tc
		rd = bufio.NewReaderSize(conn, maxLine)
		return true
	}
	greeting := func() (string, bool) {
		line, err := readReply(rd)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && line == "" {
				r.add(issue{StatusFail, "no-greeting", c.t("found.no-greeting", c.o.StepTimeout), c.t("fix.no-greeting", s.Port)})
			} else {
				r.add(issue{StatusFail, "no-greeting", c.t("found.bad-greeting", clean(err.Error(), 120)), c.t("fix.mail-unreachable", s.Hostname, s.Port)})
			}
			return "", false
		}
		if p := greetingProtocol(line); p != s.Type {
			other := strings.ToUpper(p)
			if p == "" {
				other = "?"
			}
			r.add(issue{StatusFail, "wrong-protocol", c.t("found.wrong-protocol", s.Port, other, clean(line, 60)),
				c.t("fix.wrong-protocol", typ, s.Socket, clientrules.StandardPort(s.Type, s.Socket))})
			return line, false
		}
		return line, true
	}

	var line string
	switch s.Socket {
	case clientrules.SocketSSL:
		if !handshake() {
			return r
		}
		var ok bool
		if line, ok = greeting(); !ok {
			return r
		}
	default:
		var ok bool
		if line, ok = greeting(); !ok {
			return r
		}
		offered, reply := startTLS(conn, rd, s.Type)
		switch {
		case offered:
			if !handshake() {
				return r
			}
		case s.Socket == clientrules.SocketSTARTTLS:
			r.add(issue{StatusFail, "starttls-refused", c.t("found.starttls-refused", clean(reply, 80)), c.t("fix.starttls-refused", s.Hostname, s.Port)})
			return r
		default:
			r.add(issue{StatusWarn, "plain", c.t("found.plain"), c.t("fix.plain", clientrules.StandardPort(s.Type, clientrules.SocketSSL))})
		}
	}
	r.usable = true
	r.okFound = c.t("found.greeting", clean(line, 60))
	if state != nil {
		p := verifyCertificate(state.PeerCertificates, s.Hostname, c.o.Roots, c.o.Now())
		if p.problem != "" {
			r.add(c.certIssue(p, s.Hostname))
		} else if left := p.leaf.NotAfter.Sub(c.o.Now()); left < expiryWarning {
			r.add(issue{StatusWarn, "cert-expiring", c.t("found.cert-expiring", p.leaf.NotAfter.UTC().Format("2006-01-02 15:04"), int(math.Ceil(left.Hours()/24))), c.t("fix.cert-expiring", s.Hostname)})
		} else {
			r.okFound += "; " + c.t("found.tls-ok", tls.VersionName(state.Version), p.leaf.NotAfter.UTC().Format("2006-01-02"))
		}
	}
	quit := map[string]string{clientrules.TypeIMAP: "a9 LOGOUT\r\n", clientrules.TypePOP3: "QUIT\r\n", clientrules.TypeSMTP: "QUIT\r\n"}[s.Type]
	_, _ = io.WriteString(conn, quit)
	return r
}

// mailConnectionIssue says why a mail server could not be reached.
func (c *checker) mailConnectionIssue(err error, s clientrules.Server) issue {
	i := c.connectionIssue(err, s.Hostname, strconv.Itoa(s.Port), false)
	if i.problem != "no-address" {
		i.fix = c.t("fix.mail-unreachable", s.Hostname, s.Port)
	}
	return *i
}

// readReply reads one reply: a line, or an SMTP multi-line reply ("220-..." lines up
// to "220 ..."), returning its last line.
func readReply(rd *bufio.Reader) (string, error) {
	for range 100 {
		b, err := rd.ReadSlice('\n')
		line := strings.TrimRight(string(b), "\r\n")
		if err != nil {
			return line, err
		}
		if len(line) >= 4 && line[3] == '-' && isDigits(line[:3]) {
			continue
		}
		return line, nil
	}
	return "", errors.New("reply of more than 100 lines")
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// greetingProtocol names the protocol a greeting belongs to: "* OK" is IMAP
// (RFC 9051 §7.1), "+OK" POP3 (RFC 1939 §4), a three-digit code SMTP (RFC 5321
// §4.2); "" for anything else.
func greetingProtocol(line string) string {
	switch {
	case strings.HasPrefix(line, "* OK"), strings.HasPrefix(line, "* PREAUTH"), strings.HasPrefix(line, "* BYE"):
		return clientrules.TypeIMAP
	case strings.HasPrefix(line, "+OK"), strings.HasPrefix(line, "-ERR"):
		return clientrules.TypePOP3
	case len(line) >= 3 && isDigits(line[:3]) && (len(line) == 3 || line[3] == ' ' || line[3] == '-'):
		return clientrules.TypeSMTP
	}
	return ""
}

// startTLS asks the server to start TLS: IMAP STARTTLS (RFC 9051 §6.2.1), POP3 STLS
// (RFC 2595 §4), SMTP EHLO and STARTTLS (RFC 3207 §4). It reports whether the server
// agreed, and its last reply.
func startTLS(conn net.Conn, rd *bufio.Reader, typ string) (bool, string) {
	send := func(cmd string) (string, error) {
		if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
			return "", err
		}
		return readReply(rd)
	}
	switch typ {
	case clientrules.TypeIMAP:
		line, err := send("a1 STARTTLS")
		for i := 0; err == nil && strings.HasPrefix(line, "* ") && i < 20; i++ {
			line, err = readReply(rd) // untagged lines come before the tagged answer
		}
		return err == nil && strings.HasPrefix(line, "a1 OK"), line
	case clientrules.TypePOP3:
		line, err := send("STLS")
		return err == nil && strings.HasPrefix(line, "+OK"), line
	case clientrules.TypeSMTP:
		line, err := send("EHLO mailconf-check")
		if err != nil || !strings.HasPrefix(line, "250") {
			return false, line
		}
		line, err = send("STARTTLS")
		return err == nil && strings.HasPrefix(line, "220"), line
	}
	return false, ""
}
