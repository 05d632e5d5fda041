package check

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// judgeDNS judges the names clients look up before they connect: autoconfig.<d> and
// autodiscover.<d> must have addresses; the domain's MX is shown for context.
func (c *checker) judgeDNS() []Step {
	var steps []Step
	for _, h := range []struct{ id, host string }{{"dns.autoconfig", c.autoconfigHost}, {"dns.autodiscover", c.autodiscoverHost}} {
		a := c.names[h.host]
		r := &result{id: h.id, asked: "A, AAAA " + h.host + "."}
		var na *errNoAddress
		switch {
		case errors.As(a.err, &na):
			r.add(issue{StatusFail, "no-address", c.t("found.no-address", h.host, na.why), c.t("fix.add", c.addressRecords(h.host))})
		case a.err != nil:
			r.add(issue{StatusFail, "dns-error", c.dnsFailure(a.err), c.t("fix.dns-error", c.domain)})
		default:
			var parts []string
			for _, ip := range a.addrs {
				kind := "A"
				if ip.Is6() {
					kind = "AAAA"
				}
				parts = append(parts, kind+" "+ip.String())
			}
			r.okFound = strings.Join(parts, ", ")
			if len(a.cnames) > 0 {
				r.okFound += " (CNAME " + strings.Join(a.cnames, ", ") + ")"
			}
		}
		steps = append(steps, r.step())
	}
	r := &result{id: "dns.mx", asked: "MX " + c.domain + "."}
	switch {
	case c.mx.err != nil:
		r.add(issue{StatusWarn, "dns-error", c.dnsFailure(c.mx.err), c.t("fix.dns-error", c.domain)})
	case c.mx.msg.Rcode != dns.RcodeSuccess && c.mx.msg.Rcode != dns.RcodeNameError:
		r.add(issue{StatusWarn, "dns-error", c.t("found.dns-error", rcodeName(c.mx)), c.t("fix.dns-error", c.domain)})
	default:
		var mx []string
		for _, rr := range c.mx.msg.Answer {
			if m, ok := rr.(*dns.MX); ok {
				mx = append(mx, fmt.Sprintf("%d %s", m.Preference, m.Mx))
			}
		}
		sort.Strings(mx)
		if len(mx) == 0 {
			r.add(issue{StatusWarn, "no-mx", c.t("found.no-mx", rcodeName(c.mx)), c.t("fix.no-mx", c.domain)})
		} else {
			r.okFound = strings.Join(mx, ", ")
		}
	}
	return append(steps, r.step())
}

// addressRecords are the records to add for a host: to dns.addresses when the
// configuration names them, else a placeholder for the server's address.
func (c *checker) addressRecords(host string) string {
	if c.o.Config != nil && len(c.o.Config.DNS.Addresses) > 0 {
		var lines []string
		for _, ip := range c.o.Config.DNS.Addresses {
			kind := "A"
			if ip.Is6() {
				kind = "AAAA"
			}
			lines = append(lines, fmt.Sprintf("%s. %d IN %s %s", host, c.o.Config.DNS.TTL, kind, ip))
		}
		return strings.Join(lines, "  ")
	}
	return fmt.Sprintf("%s. 3600 IN A %s", host, c.t("placeholder.address"))
}
