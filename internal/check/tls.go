package check

import (
	"math"
	"strings"
	"time"
)

// expiryWarning is how long before expiry a certificate gets a warning.
const expiryWarning = 14 * 24 * time.Hour

// responses returns every HTTP exchange of the run, in the report's order.
func (c *checker) responses() []*response {
	var out []*response
	for _, a := range c.autoconfig {
		out = append(out, a.resp)
	}
	out = append(out, c.json)
	for _, u := range c.poxURLs() {
		if c.pox[u] != nil {
			out = append(out, c.pox[u])
		}
	}
	return append(out, c.redirect, c.profile, c.setup)
}

// judgeTLS judges the certificate of every HTTPS host asked, by the rules every client
// applies: a chain to a trusted root, the host's name, valid now; and warns 14 days
// before it expires.
func (c *checker) judgeTLS() []Step {
	type hostSeen struct {
		host, port string
		resp       *response // the first answer with a TLS connection, else the first
	}
	var hosts []*hostSeen
	for _, r := range c.responses() {
		if r == nil {
			continue
		}
		host, port, https := hostPort(r.url)
		if !https {
			continue
		}
		var h *hostSeen
		for _, o := range hosts {
			if strings.EqualFold(o.host, host) && o.port == port {
				h = o
			}
		}
		if h == nil {
			h = &hostSeen{host: host, port: port, resp: r}
			hosts = append(hosts, h)
		}
		if h.resp.tls == nil && r.tls != nil {
			h.resp = r
		}
	}
	var steps []Step
	for _, h := range hosts {
		id := "tls." + c.hostRole(h.host)
		if h.port != "443" {
			id += ":" + h.port
		}
		r := &result{id: id, asked: h.host + ":" + h.port}
		if h.resp.tls == nil {
			var i *issue
			if h.resp.err != nil {
				i = c.connectionIssue(h.resp.err, h.host, h.port, true)
			}
			if i == nil || i.problem != "tls-handshake" {
				// No TLS connection to judge; the steps that asked say why.
				r.add(issue{StatusSkip, "", c.t("found.no-tls-connection"), ""})
			} else {
				r.add(*i)
			}
			steps = append(steps, r.step())
			continue
		}
		p := verifyCertificate(h.resp.tls.PeerCertificates, h.host, c.o.Roots, c.o.Now())
		if p.problem != "" {
			r.add(c.certIssue(p, h.host))
			steps = append(steps, r.step())
			continue
		}
		left := p.leaf.NotAfter.Sub(c.o.Now())
		r.okFound = c.t("found.cert-ok", strings.Join(p.leaf.DNSNames, ", "), p.leaf.NotAfter.UTC().Format("2006-01-02"), clean(p.leaf.Issuer.CommonName, 80))
		if left < expiryWarning {
			r.add(issue{StatusWarn, "cert-expiring", c.t("found.cert-expiring", p.leaf.NotAfter.UTC().Format("2006-01-02 15:04"), int(math.Ceil(left.Hours()/24))), c.t("fix.cert-expiring", h.host)})
		}
		steps = append(steps, r.step())
	}
	return steps
}

// hostRole names a host for step ids: autoconfig, autodiscover, domain, or the host.
func (c *checker) hostRole(host string) string {
	switch {
	case strings.EqualFold(host, c.autoconfigHost):
		return "autoconfig"
	case strings.EqualFold(host, c.autodiscoverHost):
		return "autodiscover"
	case strings.EqualFold(host, c.domain):
		return "domain"
	}
	return strings.ToLower(host)
}
