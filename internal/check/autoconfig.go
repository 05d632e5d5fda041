package check

import (
	"bytes"
	"slices"
	"strings"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// judgeAutoconfig judges every autoconfig answer with the rules of Thunderbird,
// Thunderbird for Android and the literal clients (docs/clients.md). A request whose
// answer clients reject is a warning when another URL the same clients ask works:
// they move on to it.
func (c *checker) judgeAutoconfig() []Step {
	results := make([]*result, len(c.autoconfig))
	for i, a := range c.autoconfig {
		results[i] = c.judgeAutoconfigAnswer(a)
		// The same document as a URL above: say so instead of listing it again.
		for j := range i {
			if b := c.autoconfig[j]; results[i].usable && results[j].usable && bytes.Equal(a.resp.body, b.resp.body) {
				results[i].okFound = c.t("found.same-document", b.id)
				break
			}
		}
	}
	for i, a := range c.autoconfig {
		r := results[i]
		if r.status() != StatusFail || !r.moveOn {
			continue
		}
		if a.kind == "ispdb" {
			// Only clients pointed at this server (mailnews.auto_config_url) ask here.
			c.demote(r, c.t("found.ispdb-optional"))
			continue
		}
		// Name the alternative over the same scheme first: EmailEngine asks only HTTP.
		for _, sameScheme := range []bool{true, false} {
			if r.status() != StatusFail {
				break
			}
			for j, b := range c.autoconfig {
				if j != i && b.https == a.https == sameScheme && alternative(a, b) && results[j].usable && results[j].status() != StatusFail {
					c.demote(r, c.t("found.moves-on", b.url))
					c.softenOnDomain(r, a.url)
					break
				}
			}
		}
	}
	steps := make([]Step, len(results))
	for i, r := range results {
		steps[i] = r.step()
	}
	return steps
}

// demote turns a failure that clients get past into a warning, and says where they go.
func (c *checker) demote(r *result, where string) {
	for i := range r.issues {
		if r.issues[i].status == StatusFail {
			r.issues[i].status = StatusWarn
		}
	}
	if w := r.worst(); w != nil {
		w.found += c.t("report.note", where)
	}
}

// alternative reports whether the clients that ask a also ask b (docs/clients.md,
// "Where clients look"): Delta Chat and FairEmail ask both HTTPS URLs with the
// address; K-9 and KMail ask without it, over HTTPS then HTTP; EmailEngine asks over
// HTTP, and Thunderbird over both; GNOME falls back from mail-v1.xml to the others.
func alternative(a, b *autoconfigAsk) bool {
	if b.kind != "autoconfig" {
		return false
	}
	switch {
	case a.kind == "mail-v1":
		return b.address
	case !a.address:
		return !b.address
	case a.https:
		return b.https && b.address
	}
	return b.address
}

// judgeAutoconfigAnswer judges one answer.
func (c *checker) judgeAutoconfigAnswer(a *autoconfigAsk) *result {
	r := &result{id: a.id, asked: "GET " + a.url}
	resp := a.resp
	// Clients move on from anything but a 200; FairEmail, GNOME and KMail take exactly
	// 200 (docs/clients.md).
	if i := c.answered(resp); i != nil {
		r.add(*i)
		r.moveOn = true
		return r
	}
	tb, tbErr := clientrules.Thunderbird(resp.body, resp.contentType())
	raw, rawErr := clientrules.AutoconfigServers(resp.body)
	if rawErr == nil {
		for _, s := range raw {
			for _, i := range c.mistakeIssues(s) {
				r.add(i)
			}
		}
	}
	if tbErr != nil {
		r.moveOn = true
		if strings.Contains(tbErr.Error(), "Content-Type") {
			r.add(issue{StatusFail, "content-type", c.t("found.rejected-thunderbird", clean(tbErr.Error(), 160)), c.t("fix.autoconfig-content-type")})
		} else {
			r.add(issue{StatusFail, "rejected-thunderbird", c.t("found.rejected-thunderbird", clean(tbErr.Error(), 160)), c.t("fix.autoconfig-document", c.autoconfigHost)})
		}
		return r
	}
	r.usable = true
	r.okFound = serverList(tb.Incoming, tb.Outgoing)
	if err := clientrules.AutoconfigCommon(resp.body); err != nil {
		r.add(issue{StatusFail, "client-rules", c.t("found.client-rules", clean(err.Error(), 160)), c.t("fix.autoconfig-document", c.autoconfigHost)})
	}
	if !slices.ContainsFunc(tb.Domains, func(d string) bool { return strings.EqualFold(d, c.domain) }) {
		r.add(issue{StatusWarn, "other-domain", c.t("found.other-domain", strings.Join(tb.Domains, ", "), c.domain), c.t("fix.other-domain", c.domain)})
	}
	if _, err := clientrules.ThunderbirdAndroid(resp.body); err != nil {
		fix := c.t("fix.k9")
		switch {
		case strings.Contains(err.Error(), "no imap server"):
			fix = c.t("fix.k9-imap")
		case strings.Contains(err.Error(), `"plain"`):
			fix = c.t("fix.k9-plain")
		}
		r.add(issue{StatusWarn, "rejected-k9", c.t("found.rejected-k9", clean(err.Error(), 160)), fix})
	}
	return r
}
