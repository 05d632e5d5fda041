package check

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxBody bounds every response body read; answers are a few kilobytes.
const maxBody = 1 << 20

// network makes every request of a run: DNS questions to the resolvers, connections
// through the -connect-to rules, HTTP with certificates verified afterwards.
type network struct {
	resolvers []string // host:port
	connectTo []ConnectTo
	step      time.Duration // every request's own timeout
	dialer    net.Dialer
	http      *http.Client
	userAgent string
}

func newNetwork(resolvers []string, connectTo []ConnectTo, step time.Duration, userAgent string) *network {
	n := &network{resolvers: resolvers, connectTo: connectTo, step: step, userAgent: userAgent}
	n.http = &http.Client{
		Transport: &http.Transport{
			Proxy:       nil, // from the outside, as clients connect: no proxy from the environment
			DialContext: n.dial,
			// Certificates are verified after the request (verifyCertificate), so that a
			// bad one is reported with its reason and the document is still judged.
			TLSClientConfig:        &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:    step,
			ResponseHeaderTimeout:  step,
			MaxResponseHeaderBytes: 64 << 10,
			DisableCompression:     true,
		},
		// Redirects are answers to judge, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return n
}

func (n *network) close() { n.http.CloseIdleConnections() }

// dnsAnswer is the response to one DNS question.
type dnsAnswer struct {
	msg *dns.Msg
	err error
}

// exchange asks the resolvers one question, each in turn until one answers; over TCP
// when the UDP answer is truncated.
func (n *network) exchange(ctx context.Context, name string, qtype uint16) dnsAnswer {
	ctx, cancel := context.WithTimeout(ctx, n.step)
	defer cancel()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.RecursionDesired = true
	q.SetEdns0(1232, false)
	var last error = errors.New("no DNS server to ask")
	for _, server := range n.resolvers {
		c := &dns.Client{Net: "udp", Timeout: n.step}
		r, _, err := c.ExchangeContext(ctx, q, server)
		if err == nil && r.Truncated {
			c.Net = "tcp"
			r, _, err = c.ExchangeContext(ctx, q, server)
		}
		if err == nil {
			return dnsAnswer{msg: r}
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return dnsAnswer{err: last}
}

// errNoAddress means a name has no A or AAAA record; the text says why.
type errNoAddress struct {
	name, why string
}

func (e *errNoAddress) Error() string { return e.name + ": " + e.why }

// errDNS is an answer that says nothing about the name asked: REFUSED, SERVFAIL.
type errDNS struct{ rcode int }

func (e *errDNS) Error() string { return dns.RcodeToString[e.rcode] }

// addresses is what a name resolves to.
type addresses struct {
	cnames []string // the alias chain, each as "alias → target"
	addrs  []netip.Addr
	rcode  int // of the last answer
	err    error
}

// lookup resolves a name to its IPv4 and IPv6 addresses, following CNAMEs.
func (n *network) lookup(ctx context.Context, name string) addresses {
	var out addresses
	for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
		addrs, cnames, rcode, err := n.resolve(ctx, name, qt)
		if err != nil {
			out.err = err
			return out
		}
		out.addrs = append(out.addrs, addrs...)
		if qt == dns.TypeA {
			out.cnames, out.rcode = cnames, rcode
		}
	}
	switch {
	case len(out.addrs) > 0:
	case out.rcode == dns.RcodeSuccess:
		out.err = &errNoAddress{name: strings.TrimSuffix(name, "."), why: "NODATA"}
	case out.rcode == dns.RcodeNameError:
		out.err = &errNoAddress{name: strings.TrimSuffix(name, "."), why: "NXDOMAIN"}
	default:
		// The server would not say (REFUSED, SERVFAIL): not an answer about the name.
		out.err = &errDNS{rcode: out.rcode}
	}
	return out
}

// resolve asks for one address type, following an alias whose target the answer does
// not resolve (as an authoritative server answers) at most 8 times.
func (n *network) resolve(ctx context.Context, name string, qtype uint16) (addrs []netip.Addr, cnames []string, rcode int, err error) {
	target := dns.Fqdn(name)
	for range 8 {
		a := n.exchange(ctx, target, qtype)
		if a.err != nil {
			return nil, nil, 0, a.err
		}
		if a.msg.Rcode != dns.RcodeSuccess {
			return addrs, cnames, a.msg.Rcode, nil
		}
		next := target
		for _, rr := range a.msg.Answer {
			switch rr := rr.(type) {
			case *dns.CNAME:
				if strings.EqualFold(rr.Hdr.Name, next) {
					cnames = append(cnames, strings.TrimSuffix(rr.Hdr.Name, ".")+" → "+strings.TrimSuffix(rr.Target, "."))
					next = rr.Target
				}
			case *dns.A:
				if ip, ok := netip.AddrFromSlice(rr.A.To4()); ok && qtype == dns.TypeA {
					addrs = append(addrs, ip)
				}
			case *dns.AAAA:
				if ip, ok := netip.AddrFromSlice(rr.AAAA); ok && qtype == dns.TypeAAAA {
					addrs = append(addrs, ip)
				}
			}
		}
		if len(addrs) > 0 || next == target {
			return addrs, cnames, dns.RcodeSuccess, nil
		}
		target = next
	}
	return addrs, cnames, dns.RcodeSuccess, nil
}

// target returns where a connection to host:port goes under the -connect-to rules.
func (n *network) target(host, port string) (string, string, bool) {
	return apply(n.connectTo, host, port)
}

// dial connects to addr (host:port) as a client would, but through the -connect-to
// rules and with names resolved by the run's resolvers.
func (n *network) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	host, port, _ = n.target(host, port)
	if ip, err := netip.ParseAddr(host); err == nil {
		return n.dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
	}
	a := n.lookup(ctx, host)
	if a.err != nil {
		return nil, a.err
	}
	var first error
	for _, ip := range a.addrs {
		c, err := n.dialer.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// response is one HTTP exchange.
type response struct {
	method, url string
	status      int
	header      http.Header
	body        []byte
	tls         *tls.ConnectionState
	err         error
}

// contentType returns the response's Content-Type.
func (r *response) contentType() string { return r.header.Get("Content-Type") }

// fetch makes one HTTP request with the step timeout and reads at most maxBody bytes.
func (n *network) fetch(ctx context.Context, method, url, contentType, body string) *response {
	ctx, cancel := context.WithTimeout(ctx, n.step)
	defer cancel()
	r := &response{method: method, url: url}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		r.err = err
		return r
	}
	req.Header.Set("User-Agent", n.userAgent)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := n.http.Do(req)
	if err != nil {
		r.err = err
		return r
	}
	defer resp.Body.Close()
	r.status, r.header, r.tls = resp.StatusCode, resp.Header, resp.TLS
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		r.err = err
	case len(b) > maxBody:
		r.err = fmt.Errorf("body over %d bytes", maxBody)
	}
	r.body = b
	return r
}

// certProblem is what is wrong with a certificate chain for a name, by the clients'
// rules: the chain must lead to a trusted root, the leaf must name the host and be
// valid now.
type certProblem struct {
	problem string // "", cert-expired, cert-not-yet-valid, cert-name, cert-untrusted
	leaf    *x509.Certificate
	detail  string
}

// verifyCertificate checks the certificates a server sent for host.
func verifyCertificate(certs []*x509.Certificate, host string, roots *x509.CertPool, now time.Time) certProblem {
	if len(certs) == 0 {
		return certProblem{problem: "cert-untrusted", detail: "no certificate"}
	}
	leaf := certs[0]
	p := certProblem{leaf: leaf}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	// The chain is judged at a moment the leaf is valid, so that an expired leaf is
	// reported as expired, not as untrusted.
	at := now
	if at.After(leaf.NotAfter) {
		at = leaf.NotAfter.Add(-time.Second)
	} else if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore.Add(time.Second)
	}
	_, chainErr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	nameErr := leaf.VerifyHostname(strings.TrimSuffix(host, "."))
	switch {
	case now.After(leaf.NotAfter):
		p.problem = "cert-expired"
	case now.Before(leaf.NotBefore):
		p.problem = "cert-not-yet-valid"
	case nameErr != nil:
		p.problem = "cert-name"
	case chainErr != nil:
		p.problem, p.detail = "cert-untrusted", chainErr.Error()
	}
	return p
}

// peerCertificates returns the certificates of a TLS connection, or nil.
func peerCertificates(s *tls.ConnectionState) []*x509.Certificate {
	if s == nil {
		return nil
	}
	return s.PeerCertificates
}

// clean makes remote text safe to print: printable characters only, at most max runes.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0xfffd {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
