package check

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// followURLs are the Autodiscover URLs the answers point to: the JSON answer's Url, the
// redirect's Location and the host of _autodiscover._tcp; all HTTPS.
func (c *checker) followURLs() []string {
	var out []string
	if u := c.jsonURL(); u != "" {
		out = append(out, u)
	}
	if u := c.redirectURL(); u != "" {
		out = append(out, u)
	}
	if u := c.srvAutodiscoverURL(); u != "" {
		out = append(out, u)
	}
	return out
}

// jsonURL is the Url of a sound JSON answer, or "".
func (c *checker) jsonURL() string {
	if c.json == nil || c.json.err != nil || c.json.status != 200 {
		return ""
	}
	a, err := clientrules.ParseAutodiscoverJSON(c.json.status, c.json.contentType(), c.json.body)
	if err != nil {
		return ""
	}
	return a.URL
}

// redirectURL is the https Location of the GET redirect answer, or "".
func (c *checker) redirectURL() string {
	r := c.redirect
	if r == nil || r.err != nil || r.status < 300 || r.status > 399 {
		return ""
	}
	u, err := url.Parse(r.header.Get("Location"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ""
	}
	return u.String()
}

// srvAutodiscoverURL is the POX URL on the target of _autodiscover._tcp: Outlook
// builds https://<target>/autodiscover/autodiscover.xml and ignores the port
// (docs/dns.md).
func (c *checker) srvAutodiscoverURL() string {
	for _, rr := range srvRecords(c.srv["autodiscover"]) {
		if rr.Target != "." {
			return "https://" + trimDot(rr.Target) + "/autodiscover/autodiscover.xml"
		}
	}
	return ""
}

// srvRecords returns the SRV records of an answer.
func srvRecords(a dnsAnswer) []*dns.SRV {
	if a.err != nil || a.msg == nil {
		return nil
	}
	var out []*dns.SRV
	for _, rr := range a.msg.Answer {
		if s, ok := rr.(*dns.SRV); ok {
			out = append(out, s)
		}
	}
	return out
}

// judgeOutlook follows Outlook's order (MS-OXDSCLI §3.1.5): new Outlook's JSON
// endpoint, then POST to https://<d>, to https://autodiscover.<d>, the HTTP redirect
// and the _autodiscover._tcp record. Outlook takes the first that gives settings; a
// method that fails before or after it is a warning, one it never needs is skipped.
func (c *checker) judgeOutlook() []Step {
	var results []*result
	var pox []*result // the methods that give settings
	add := func(r *result, isPOX bool) {
		results = append(results, r)
		if isPOX {
			pox = append(pox, r)
		}
	}
	jsonStep := c.judgeJSON()
	add(jsonStep, false)
	if u := c.jsonURL(); u != "" && u != c.poxDomainURL() && u != c.poxAutodiscoverURL() {
		add(c.judgePOX("outlook.json-url", u), true)
	}
	add(c.judgePOX("outlook.pox-domain", c.poxDomainURL()), true)
	add(c.judgePOX("outlook.pox-autodiscover", c.poxAutodiscoverURL()), true)
	redirect, target := c.judgeRedirect()
	add(redirect, false)
	if target != nil {
		add(target, true)
	}
	srv, srvTarget := c.judgeAutodiscoverSRV()
	add(srv, false)
	if srvTarget != nil {
		add(srvTarget, true)
	}

	var works *result
	for _, r := range pox {
		if r.usable && r.status() != StatusFail {
			works = r
			break
		}
	}
	for _, r := range results {
		switch {
		case works == nil || r.status() != StatusFail:
		case r.moveOn:
			c.demote(r, c.t("found.outlook-moves-on", strings.TrimPrefix(works.asked, "POST ")))
			c.softenOnDomain(r, strings.TrimPrefix(strings.TrimPrefix(r.asked, "POST "), "GET "))
		case r == redirect || r == srv:
			// Not configured: Outlook does not need it.
			for i := range r.issues {
				r.issues[i].status = StatusSkip
			}
		}
	}
	// The same settings as a method above: say so instead of listing them again.
	for i, r := range results {
		for _, o := range results[:i] {
			if r.usable && o.usable && r.body != nil && bytes.Equal(r.body, o.body) {
				r.okFound = c.t("found.same-settings", o.id)
				break
			}
		}
	}
	steps := make([]Step, len(results))
	for i, r := range results {
		steps[i] = r.step()
	}
	return steps
}

// judgeJSON judges new Outlook's Autodiscover V2 answer.
func (c *checker) judgeJSON() *result {
	r := &result{id: "outlook.json", asked: "GET " + c.json.url, moveOn: true}
	if i := c.transport(c.json); i != nil {
		r.add(*i)
		return r
	}
	a, err := clientrules.ParseAutodiscoverJSON(c.json.status, c.json.contentType(), c.json.body)
	switch {
	case err != nil:
		r.add(issue{StatusFail, "rejected-new-outlook", c.t("found.rejected-new-outlook", clean(err.Error(), 160)), c.t("fix.autodiscover", c.autodiscoverHost)})
	case c.json.status != 200:
		r.add(issue{StatusFail, "json-error", c.t("found.json-error", c.json.status, clean(a.ErrorCode, 40), clean(a.ErrorMessage, 120)), c.t("fix.not-found", c.autodiscoverHost, c.domain)})
	default:
		r.moveOn, r.usable = false, true
		r.okFound = "Url " + clean(a.URL, 200)
	}
	return r
}

// judgePOX judges the answer to Outlook's POST.
func (c *checker) judgePOX(id, u string) *result {
	r := &result{id: id, asked: "POST " + u, moveOn: true}
	resp := c.pox[u]
	// MS-OXDSCLI: every Autodiscover answer is 200.
	if i := c.answered(resp); i != nil {
		r.add(*i)
		return r
	}
	p, err := clientrules.ParsePOX(resp.body)
	if err != nil {
		r.add(issue{StatusFail, "rejected-outlook", c.t("found.rejected-outlook", clean(err.Error(), 160)), c.t("fix.autodiscover", c.autodiscoverHost)})
		return r
	}
	if p.Error != nil {
		fix := c.t("fix.pox-error", clean(p.Error.Code, 10))
		if p.Error.Code == "500" {
			fix = c.t("fix.pox-500", c.domain)
		}
		r.add(issue{StatusFail, "pox-error", c.t("found.pox-error", clean(p.Error.Code, 10), clean(p.Error.Message, 120)), fix})
		return r
	}
	r.moveOn, r.usable = false, true
	var servers []clientrules.Server
	for _, pr := range p.Protocols {
		s := pr.Server()
		servers = append(servers, s)
		for _, i := range c.mistakeIssues(s) {
			r.add(i)
		}
		if tb := pr.ThunderbirdSocket(); !clientrules.SocketsAgree(tb, s.Socket) {
			r.add(issue{StatusWarn, "readings-differ", c.t("found.readings-differ", strings.ToUpper(s.Type), s.Port, s.Socket, tb),
				c.t("fix.readings-differ", clientrules.StandardPort(s.Type, s.Socket))})
		}
	}
	r.okFound = serverList(servers)
	r.body = resp.body
	return r
}

// poxStep returns the step that posts to a URL before the method at rank (poxOrder:
// the redirect 3, the SRV record 4), or "".
func (c *checker) poxStep(u string, rank int) string {
	steps := []struct {
		u, id string
	}{{c.jsonURL(), "outlook.json-url"}, {c.poxDomainURL(), "outlook.pox-domain"}, {c.poxAutodiscoverURL(), "outlook.pox-autodiscover"}, {c.redirectURL(), "outlook.redirect-target"}}
	for _, s := range steps[:rank] {
		if s.u == u && s.u != "" {
			if s.id == "outlook.json-url" && (u == c.poxDomainURL() || u == c.poxAutodiscoverURL()) {
				continue // judged under its own name
			}
			return s.id
		}
	}
	return ""
}

// poxOrder ranks POX URLs in the order Outlook posts to them.
func (c *checker) poxOrder(u string) int {
	switch u {
	case c.poxDomainURL():
		return 1
	case c.poxAutodiscoverURL():
		return 2
	case c.jsonURL():
		return 0
	case c.redirectURL():
		return 3
	}
	return 4
}

// judgeRedirect judges the answer to Outlook's GET on the HTTP host: a redirect to an
// HTTPS URL, which is then posted to.
func (c *checker) judgeRedirect() (redirect, target *result) {
	resp := c.redirect
	r := &result{id: "outlook.redirect", asked: "GET " + resp.url, moveOn: true}
	if i := c.transport(resp); i != nil {
		r.add(*i)
		return r, nil
	}
	if resp.status >= 300 && resp.status < 400 {
		loc := c.redirectURL()
		if loc == "" {
			r.add(issue{StatusFail, "redirect-not-https", c.t("found.redirect", resp.status, clean(resp.header.Get("Location"), 160)), c.t("fix.redirect-https")})
			return r, nil
		}
		r.moveOn, r.usable = false, true
		r.okFound = c.t("found.redirect", resp.status, loc)
		if id := c.poxStep(loc, 3); id != "" {
			r.okFound += "; " + c.t("found.judged-at", id)
			return r, nil
		}
		return r, c.judgePOX("outlook.redirect-target", loc)
	}
	if resp.status == 200 {
		if p, err := clientrules.ParsePOX(resp.body); err == nil && p.Error != nil {
			// mailconf without autodiscover.url asks for POST here (docs/clients.md).
			r.moveOn = false
			r.add(issue{StatusFail, "no-redirect", c.t("found.no-redirect", clean(p.Error.Code, 10)), c.t("fix.no-redirect")})
			return r, nil
		}
	}
	r.add(c.statusIssue(resp))
	return r, nil
}

// judgeAutodiscoverSRV judges _autodiscover._tcp and the POST to its target.
func (c *checker) judgeAutodiscoverSRV() (srv, target *result) {
	a := c.srv["autodiscover"]
	r := &result{id: "outlook.srv", asked: "SRV _autodiscover._tcp." + c.domain + "."}
	if a.err != nil {
		r.add(issue{StatusFail, "dns-error", c.dnsFailure(a.err), c.t("fix.dns-error", c.domain)})
		return r, nil
	}
	if rc := a.msg.Rcode; rc != dns.RcodeSuccess && rc != dns.RcodeNameError {
		r.add(issue{StatusFail, "dns-error", c.t("found.dns-error", rcodeName(a)), c.t("fix.dns-error", c.domain)})
		return r, nil
	}
	u := c.srvAutodiscoverURL()
	if u == "" {
		r.add(issue{StatusFail, "no-record", c.t("found.no-record", rcodeName(a)), c.t("fix.autodiscover-srv", c.domain, c.autodiscoverHost)})
		return r, nil
	}
	r.usable = true
	var recs []string
	for _, rr := range srvRecords(a) {
		recs = append(recs, srvText(rr))
	}
	r.okFound = strings.Join(recs, ", ")
	if id := c.poxStep(u, 4); id != "" {
		r.okFound += "; " + c.t("found.judged-at", id)
		return r, nil
	}
	return r, c.judgePOX("outlook.srv-target", u)
}
