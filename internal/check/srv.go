package check

import (
	"fmt"
	"sort"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// srvServices are the RFC 6186/8314 services, in the order the report lists them.
var srvServices = []string{"imaps", "imap", "pop3s", "pop3", "submissions", "submission"}

// srvText writes a record's data as a zone file does.
func srvText(rr *dns.SRV) string {
	return fmt.Sprintf("%d %d %d %s", rr.Priority, rr.Weight, rr.Port, rr.Target)
}

// rcodeName says why an answer holds no record: NXDOMAIN, or NODATA.
func rcodeName(a dnsAnswer) string {
	if a.msg == nil {
		return ""
	}
	if a.msg.Rcode == dns.RcodeSuccess {
		return "NODATA"
	}
	return dns.RcodeToString[a.msg.Rcode]
}

// expectedRecord is an SRV record the reference settings call for, written as
// `mailconf records` writes it.
type expectedRecord struct {
	server   clientrules.Server
	priority int
}

// zoneLine writes the record as a zone file line.
func (c *checker) zoneLine(e expectedRecord) string {
	ttl, weight := 3600, 1
	if c.o.Config != nil {
		ttl, weight = int(c.o.Config.DNS.TTL), int(*c.o.Config.DNS.Weight)
	}
	return fmt.Sprintf("_%s._tcp.%s. %d IN SRV %d %d %d %s.", e.server.Service(), c.domain, ttl, e.priority, weight, e.server.Port, trimDot(e.server.Hostname))
}

// expected returns the records the reference settings call for, by service: priorities
// 0, 10, 20 ... in preference order, incoming and outgoing apart (docs/dns.md).
func (c *checker) expected() map[string][]expectedRecord {
	out := map[string][]expectedRecord{}
	if c.ref == nil {
		return out
	}
	for _, list := range [][]clientrules.Server{c.ref.incoming, c.ref.outgoing} {
		for i, s := range list {
			if s.Socket == clientrules.SocketAnyTLS {
				continue
			}
			out[s.Service()] = append(out[s.Service()], expectedRecord{server: s, priority: 10 * i})
		}
	}
	return out
}

// judgeSRV judges each RFC 6186 record set, then whether those clients find an
// incoming and an outgoing server.
func (c *checker) judgeSRV() []Step {
	expect := c.expected()
	var steps []Step
	var incoming, outgoing []clientrules.Server
	for _, svc := range srvServices {
		a := c.srv[svc]
		r := &result{id: "srv." + svc, asked: "SRV _" + svc + "._tcp." + c.domain + "."}
		want := expect[svc]
		var wantLines []string
		for _, e := range want {
			wantLines = append(wantLines, c.zoneLine(e))
		}
		published := func() string {
			var s []string
			for _, e := range want {
				s = append(s, e.server.String())
			}
			return strings.Join(s, ", ")
		}
		recs := srvRecords(a)
		switch {
		case a.err != nil || (a.msg.Rcode != dns.RcodeSuccess && a.msg.Rcode != dns.RcodeNameError):
			st := StatusWarn
			if len(want) > 0 {
				st = StatusFail
			}
			found := c.t("found.dns-error", rcodeName(a))
			if a.err != nil {
				found = c.dnsFailure(a.err)
			}
			r.add(issue{st, "dns-error", found, c.t("fix.dns-error", c.domain)})
		case len(recs) == 0 && len(want) == 0:
			r.okFound = c.t("found.srv-none-needed", rcodeName(a))
		case len(recs) == 0:
			r.add(issue{StatusWarn, "srv-missing", c.t("found.srv-missing", rcodeName(a), c.ref.label, published()), c.t("fix.add", strings.Join(wantLines, "  "))})
		case len(recs) == 1 && recs[0].Target == ".":
			if len(want) > 0 {
				r.add(issue{StatusFail, "srv-contradicts", c.t("found.srv-contradicts", c.ref.label, published()), c.t("fix.replace", strings.Join(wantLines, "  "))})
			} else {
				r.okFound = c.t("found.srv-not-offered")
			}
		default:
			var texts []string
			typ, socket, _ := clientrules.ServiceServer(svc)
			for _, rr := range recs {
				texts = append(texts, srvText(rr))
				if rr.Target == "." {
					// RFC 2782: "." says the service is not offered, and only alone.
					r.add(issue{StatusFail, "srv-mixed", c.t("found.srv-mixed"), c.t("fix.srv-mixed", svc)})
					continue
				}
				s := clientrules.Server{Type: typ, Hostname: trimDot(rr.Target), Port: int(rr.Port), Socket: socket}
				for _, i := range c.mistakeIssues(s) {
					i.found = srvText(rr) + ": " + i.found
					if len(wantLines) > 0 {
						i.fix = c.t("fix.agree-srv", strings.Join(wantLines, "  "))
					}
					r.add(i)
				}
				if s.Incoming() {
					incoming = append(incoming, s)
				} else {
					outgoing = append(outgoing, s)
				}
			}
			r.usable = true
			r.okFound = strings.Join(texts, ", ")
		}
		steps = append(steps, r.step())
	}

	// RFC 6186 §3.4: the client takes the lowest priority among IMAP and POP3 alike.
	u := &result{id: "srv.usable", asked: c.t("asked.srv-usable")}
	view := c.viewOf("srv")
	var fixes []string
	for _, dir := range []struct {
		have []clientrules.Server
		key  string
	}{{incoming, "incoming"}, {outgoing, "outgoing"}} {
		if len(dir.have) > 0 {
			continue
		}
		var lines []string
		for _, list := range expect {
			for _, e := range list {
				if e.server.Incoming() == (dir.key == "incoming") {
					lines = append(lines, c.zoneLine(e))
				}
			}
		}
		sort.Strings(lines)
		fix := c.t("fix.srv-usable-none")
		if len(lines) > 0 {
			fix = c.t("fix.add", strings.Join(lines, "  "))
		}
		fixes = append(fixes, fix)
		u.add(issue{StatusFail, "srv-no-" + dir.key, c.t("found.srv-no-" + dir.key), ""})
	}
	if len(fixes) > 0 {
		u.worst().fix = strings.Join(fixes, "  ")
	} else if view != nil {
		u.okFound = c.t("found.srv-usable", view.incoming[0].String(), view.outgoing[0].String())
	}
	return append(steps, u.step())
}

// refIncoming and refOutgoing are the reference settings' servers, or none.
func (c *checker) refIncoming() []clientrules.Server {
	if c.ref == nil {
		return nil
	}
	return c.ref.incoming
}

func (c *checker) refOutgoing() []clientrules.Server {
	if c.ref == nil {
		return nil
	}
	return c.ref.outgoing
}
