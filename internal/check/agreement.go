package check

import (
	"slices"
	"strings"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// judgeAgreement compares the sources with each other: the server a client of each
// takes first, incoming and outgoing, and every server that two sources both name.
func (c *checker) judgeAgreement() []Step {
	var views []*view
	for _, v := range c.views {
		if v.kind != "config" {
			views = append(views, v)
		}
	}
	first := func(incoming bool) func(v *view) (clientrules.Server, bool) {
		return func(v *view) (clientrules.Server, bool) {
			list := v.outgoing
			if incoming {
				list = v.incoming
			}
			if len(list) == 0 {
				return clientrules.Server{}, false
			}
			return list[0], true
		}
	}
	// A device takes the first IMAP server rather than the first incoming one
	// (mobileconfig), so the profile's incoming server is compared in
	// agreement.servers only.
	var full []*view
	for _, v := range views {
		if !v.partial {
			full = append(full, v)
		}
	}
	steps := []Step{
		c.agreePreferred("agreement.incoming", c.t("asked.agree-incoming"), full, first(true)),
		c.agreePreferred("agreement.outgoing", c.t("asked.agree-outgoing"), views, first(false)),
		c.agreeServers(views),
	}
	return steps
}

// agreePreferred compares the server each view's clients take first.
func (c *checker) agreePreferred(id, asked string, views []*view, pick func(*view) (clientrules.Server, bool)) Step {
	r := &result{id: id, asked: asked}
	type entry struct {
		v *view
		s clientrules.Server
	}
	var entries []entry
	for _, v := range views {
		if s, ok := pick(v); ok {
			entries = append(entries, entry{v, s})
		}
	}
	if len(entries) < 2 {
		r.add(issue{StatusSkip, "", c.t("found.agree-too-few"), ""})
		return r.step()
	}
	// The majority: the exact server most views can be read as. Ties go to the
	// reference, then to the order of the views.
	best, bestN := -1, 0
	for i, e := range entries {
		if e.s.Socket == clientrules.SocketAnyTLS || e.s.Socket == clientrules.SocketSTARTTLSOrPlain {
			continue
		}
		n := 0
		for _, o := range entries {
			if clientrules.SameEndpoint(e.s, o.s) {
				n++
			}
		}
		if n > bestN || (n == bestN && e.v == c.ref) {
			best, bestN = i, n
		}
	}
	if best < 0 {
		best = 0
	}
	major := entries[best].s
	var agree, odd []string
	var fixes []string
	for _, e := range entries {
		if clientrules.SameEndpoint(major, e.s) {
			agree = append(agree, e.v.label)
			continue
		}
		odd = append(odd, e.v.label+": "+e.s.String())
		fixes = append(fixes, c.agreeFix(e.v, major))
	}
	if len(odd) == 0 {
		r.okFound = c.t("found.agree", major.String(), strings.Join(agree, ", "))
		return r.step()
	}
	r.add(issue{StatusFail, "disagree", c.t("found.disagree", strings.Join(odd, "; "), strings.Join(agree, ", "), major.String()), strings.Join(dedupe(fixes), "  ")})
	return r.step()
}

// agreeServers compares every server that several views name by the same type and
// host: its port and security must be the same in each. A server one view names
// differently from most of the others (from the reference, on a tie) is the odd one.
// A view that lists one server per direction (the profile) is only checked against
// the others, never the other way round.
func (c *checker) agreeServers(views []*view) Step {
	r := &result{id: "agreement.servers", asked: c.t("asked.agree-servers")}
	type key struct{ typ, host string }
	byKey := func(v *view, k key) []clientrules.Server {
		var out []clientrules.Server
		for _, s := range append(slices.Clone(v.incoming), v.outgoing...) {
			if s.Type == k.typ && strings.EqualFold(trimDot(s.Hostname), k.host) {
				out = append(out, s)
			}
		}
		return out
	}
	var keys []key
	for _, v := range views {
		for _, s := range append(slices.Clone(v.incoming), v.outgoing...) {
			if k := (key{s.Type, strings.ToLower(trimDot(s.Hostname))}); !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	var odd, fixes []string
	compared := false
	for _, k := range keys {
		for _, v := range views {
			var others []*view
			for _, w := range views {
				if w != v && len(byKey(w, k)) > 0 && (v.partial || !w.partial) {
					others = append(others, w)
				}
			}
			if len(others) == 0 {
				continue
			}
			lists := make([][]clientrules.Server, len(others))
			for i, w := range others {
				lists[i] = byKey(w, k)
			}
			for _, e := range byKey(v, k) {
				compared = true
				agreeing := 0
				for _, list := range lists {
					if slices.ContainsFunc(list, func(t clientrules.Server) bool { return clientrules.SameEndpoint(e, t) }) {
						agreeing++
					}
				}
				// Most of the others agree; or only the reference and one other name
				// it, and this is the reference.
				if agreeing*2 >= len(others) || (v == c.ref && len(others) == 1) {
					continue
				}
				right := majority(lists)
				odd = append(odd, c.t("found.server-differs", v.label, e.String(), right.String()))
				fixes = append(fixes, c.agreeFix(v, right))
			}
		}
	}
	switch {
	case len(odd) > 0:
		r.add(issue{StatusFail, "disagree", strings.Join(dedupe(odd), "; "), strings.Join(dedupe(fixes), "  ")})
	case !compared:
		r.add(issue{StatusSkip, "", c.t("found.agree-too-few"), ""})
	default:
		var labels []string
		for _, v := range views {
			labels = append(labels, v.label)
		}
		r.okFound = c.t("found.agree-servers", strings.Join(labels, ", "))
	}
	return r.step()
}

// majority returns the server, with an exact security, that the most lists hold
// (each list one view's servers of one type and host).
func majority(lists [][]clientrules.Server) clientrules.Server {
	var best clientrules.Server
	bestN := -1
	for _, list := range lists {
		for _, cand := range list {
			if cand.Socket == clientrules.SocketAnyTLS || cand.Socket == clientrules.SocketSTARTTLSOrPlain {
				continue
			}
			n := 0
			for _, l := range lists {
				if slices.ContainsFunc(l, func(t clientrules.Server) bool { return clientrules.SameEndpoint(cand, t) }) {
					n++
				}
			}
			if n > bestN {
				best, bestN = cand, n
			}
		}
	}
	if bestN < 0 && len(lists) > 0 && len(lists[0]) > 0 {
		best = lists[0][0]
	}
	return best
}

// agreeFix says how to make a view publish the server the others agree on.
func (c *checker) agreeFix(v *view, right clientrules.Server) string {
	if v.kind == "srv" {
		prio := 0
		list := c.refIncoming()
		if !right.Incoming() {
			list = c.refOutgoing()
		}
		for i, s := range list {
			if clientrules.SameEndpoint(s, right) {
				prio = 10 * i
			}
		}
		if right.Socket == clientrules.SocketAnyTLS {
			right.Socket = socketName(right.Socket, "")
		}
		return c.t("fix.agree-srv", c.zoneLine(expectedRecord{server: right, priority: prio}))
	}
	return c.t("fix.agree", v.label, right.String(), v.step)
}

// dedupe keeps the first of equal strings.
func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
