package check

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// issue is one thing found in an answer.
type issue struct {
	status  Status
	problem string
	found   string
	fix     string
}

// result is a step being judged: its issues, and what clients make of the answer.
type result struct {
	id, asked string
	okFound   string  // what is shown when there is no issue
	issues    []issue // the worst decides the status
	// moveOn: the clients that got this answer move on to their next source (it was
	// no answer, an error or a document they reject), rather than use it.
	moveOn bool
	// usable: the clients took settings from it.
	usable bool
	// body is the document judged, to tell when two steps got the same one.
	body []byte
}

func (r *result) add(i issue) { r.issues = append(r.issues, i) }

// worst returns the issue that decides the status, or nil.
func (r *result) worst() *issue {
	var w *issue
	rank := map[Status]int{StatusSkip: 1, StatusOK: 0, StatusWarn: 2, StatusFail: 3}
	for i := range r.issues {
		if w == nil || rank[r.issues[i].status] > rank[w.status] {
			w = &r.issues[i]
		}
	}
	return w
}

// status is the step's status.
func (r *result) status() Status {
	if w := r.worst(); w != nil {
		return w.status
	}
	return StatusOK
}

// step writes the result as a report step: the worst issue's problem and fix, every
// issue's finding.
func (r *result) step() Step {
	s := Step{ID: r.id, Asked: r.asked, Status: StatusOK, Found: r.okFound}
	w := r.worst()
	if w == nil {
		return s
	}
	var found []string
	found = append(found, w.found)
	for i := range r.issues {
		if &r.issues[i] != w && r.issues[i].found != "" {
			found = append(found, r.issues[i].found)
		}
	}
	s.Status, s.Problem, s.Fix = w.status, w.problem, w.fix
	s.Found = strings.Join(found, "; ")
	if w.status == StatusSkip && s.Found == "" {
		s.Found = r.okFound
	}
	return s
}

// family builds a family from its steps.
func (c *checker) family(name string, steps []Step) Family {
	return Family{Name: name, Title: c.t("family." + name), Steps: steps}
}

// hostPort returns a URL's host and port (the scheme's default when none is given).
func hostPort(u string) (host, port string, https bool) {
	p, err := url.Parse(u)
	if err != nil {
		return "", "", false
	}
	https = p.Scheme == "https"
	port = p.Port()
	if port == "" {
		port = "80"
		if https {
			port = "443"
		}
	}
	return p.Hostname(), port, https
}

// answered returns why resp is not a 200 answer to read: its connection, its
// certificate or its status; nil when it is one.
func (c *checker) answered(resp *response) *issue {
	if i := c.transport(resp); i != nil {
		return i
	}
	if resp.status != 200 {
		i := c.statusIssue(resp)
		return &i
	}
	return nil
}

// transport judges how an HTTP request went before its content: no connection, no
// answer in time, a certificate clients refuse. nil when the answer arrived sound.
func (c *checker) transport(r *response) *issue {
	host, port, https := hostPort(r.url)
	if r.err != nil {
		return c.connectionIssue(r.err, host, port, https)
	}
	if https {
		if p := verifyCertificate(peerCertificates(r.tls), host, c.o.Roots, c.o.Now()); p.problem != "" {
			i := c.certIssue(p, host)
			return &i
		}
	}
	return nil
}

// connectionIssue says why a connection or request failed.
func (c *checker) connectionIssue(err error, host, port string, https bool) *issue {
	var na *errNoAddress
	var tlsAlert tls.AlertError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	listener := "-http"
	if https {
		listener = "-https"
	}
	// The URL is in the step already; say only what went wrong.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &issue{StatusFail, "tls-handshake", c.t("found.no-tls", host, port), c.t("fix.tls-handshake", host, port)}
	case errors.As(err, &na):
		return &issue{StatusFail, "no-address", c.t("found.no-address", host, na.why), c.t("fix.no-address", host)}
	case isDNSFailure(err):
		return &issue{StatusFail, "dns-error", c.dnsFailure(err), c.t("fix.dns-error", host)}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &issue{StatusFail, "refused", c.t("found.refused", host, port), c.t("fix.refused", listener, port, host)}
	case errors.As(err, &recordErr):
		return &issue{StatusFail, "tls-handshake", c.t("found.no-tls", host, port), c.t("fix.tls-handshake", host, port)}
	case errors.As(err, &tlsAlert), strings.Contains(err.Error(), "tls:"):
		return &issue{StatusFail, "tls-handshake", c.t("found.tls-handshake", clean(err.Error(), 160)), c.t("fix.tls-handshake", host, port)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		found := c.t("found.timeout", c.o.StepTimeout)
		if c.ctx.Err() != nil {
			found = c.t("found.run-timeout")
		}
		return &issue{StatusFail, "timeout", found, c.t("fix.unreachable", host, port)}
	}
	return &issue{StatusFail, "unreachable", clean(err.Error(), 160), c.t("fix.unreachable", host, port)}
}

// certIssue says what is wrong with a certificate, and how to fix it.
func (c *checker) certIssue(p certProblem, host string) issue {
	switch p.problem {
	case "cert-expired":
		return issue{StatusFail, p.problem, c.t("found.cert-expired", p.leaf.NotAfter.UTC().Format("2006-01-02")), c.t("fix.cert-expired", host)}
	case "cert-not-yet-valid":
		return issue{StatusFail, p.problem, c.t("found.cert-not-yet-valid", p.leaf.NotBefore.UTC().Format("2006-01-02 15:04")), c.t("fix.cert-not-yet-valid", host)}
	case "cert-name":
		return issue{StatusFail, p.problem, c.t("found.cert-name", host, strings.Join(p.leaf.DNSNames, ", ")), c.t("fix.cert-name", host)}
	}
	return issue{StatusFail, "cert-untrusted", c.t("found.cert-untrusted", clean(p.detail, 160)), c.t("fix.cert-untrusted", host)}
}

// statusIssue judges an HTTP status other than the one expected.
func (c *checker) statusIssue(r *response) issue {
	host, _, _ := hostPort(r.url)
	switch {
	case r.status >= 300 && r.status < 400:
		return issue{StatusFail, "http-status", c.t("found.redirect", r.status, clean(r.header.Get("Location"), 160)), c.t("fix.redirect")}
	case r.status == 404:
		return issue{StatusFail, "http-status", c.t("found.http-status", r.status), c.t("fix.not-found", host, c.domain)}
	}
	return issue{StatusFail, "http-status", c.t("found.http-status", r.status), c.t("fix.http-status", host)}
}

// mistakeIssues returns a failing issue for each mistake in circulation a server shows.
func (c *checker) mistakeIssues(s clientrules.Server) []issue {
	var out []issue
	for _, m := range clientrules.Mistakes(s) {
		typ := strings.ToUpper(s.Type)
		var found, fix string
		switch m.ID {
		case clientrules.MistakePortOfOtherProtocol:
			found = c.t("found.mistake-port", typ, s.Hostname, s.Port, strings.ToUpper(m.Other))
			fix = c.t("fix.mistake-port", typ, socketName(s.Socket, m.Want), m.Want)
		case clientrules.MistakeHostOfOtherProtocol:
			found = c.t("found.mistake-host", typ, s.Hostname, strings.ToUpper(m.Other))
			fix = c.t("fix.mistake-host", typ, s.Hostname)
		case clientrules.MistakeSSLOnSTARTTLSPort:
			found = c.t("found.mistake-ssl-port", typ, s.Port)
			fix = c.t("fix.mistake-ssl-port", typ, m.Want, s.Port)
		case clientrules.MistakeSTARTTLSOnSSLPort:
			found = c.t("found.mistake-starttls-port", typ, s.Socket, s.Port)
			fix = c.t("fix.mistake-starttls-port", s.Port, clientrules.StandardPort(s.Type, clientrules.SocketSTARTTLS))
		case clientrules.MistakeSocketSpelling:
			found = c.t("found.mistake-socket", s.Socket)
			fix = c.t("fix.mistake-socket", m.Want)
		}
		out = append(out, issue{StatusFail, "mistake-" + string(m.ID), found, fix})
	}
	return out
}

// socketName is the security a fix names: the server's own, or for a loose reading
// the one the wanted port implies.
func socketName(socket, port string) string {
	switch socket {
	case clientrules.SocketSSL, clientrules.SocketSTARTTLS, clientrules.SocketPlain:
		return socket
	}
	switch port {
	case "993", "995", "465":
		return clientrules.SocketSSL
	}
	return clientrules.SocketSTARTTLS
}

// serverList writes servers as people read them, comma-separated.
func serverList(servers ...[]clientrules.Server) string {
	var parts []string
	for _, list := range servers {
		for _, s := range list {
			parts = append(parts, s.String())
		}
	}
	return strings.Join(parts, ", ")
}

// trimDot removes a name's final dot.
func trimDot(s string) string { return strings.TrimSuffix(s, ".") }

// isDNSFailure reports whether err is a DNS server that did not answer, or answered
// without saying anything about the name.
func isDNSFailure(err error) bool {
	var de *errDNS
	var oe *net.OpError
	return errors.As(err, &de) || (errors.As(err, &oe) && oe.Op == "read" && strings.HasPrefix(oe.Net, "udp"))
}

// dnsFailure says how asking the DNS server failed: its answer code, no answer in
// time, or the error.
func (c *checker) dnsFailure(err error) string {
	var de *errDNS
	var ne net.Error
	switch {
	case errors.As(err, &de):
		return c.t("found.dns-error", dns.RcodeToString[de.rcode])
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return c.t("found.dns-timeout", c.o.StepTimeout)
	}
	return c.t("found.dns-failed", clean(err.Error(), 160))
}

// softenOnDomain rewrites the fix of a warning for a URL on the bare domain, which is
// usually a web site rather than mailconf: the clients move on, and the site can pass
// the path on to mailconf (deploy/proxy/). A certificate the site serves wrong keeps
// its own fix.
func (c *checker) softenOnDomain(r *result, u string) {
	p, err := url.Parse(u)
	if err != nil || !strings.EqualFold(p.Hostname(), c.domain) {
		return
	}
	w := r.worst()
	if w == nil || w.status != StatusWarn || strings.HasPrefix(w.problem, "cert-") {
		return
	}
	prefix := "/autodiscover/"
	if strings.HasPrefix(p.Path, "/.well-known/") {
		prefix = "/.well-known/autoconfig/"
	}
	w.fix = c.t("fix.domain-optional", p.Scheme+"://"+p.Host, prefix)
}
