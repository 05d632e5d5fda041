package check

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/html"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// view is the settings one source publishes, as its clients read them.
type view struct {
	kind  string // autoconfig, outlook, srv, profile, setup, config
	label string // for people: "autoconfig", "Outlook", "SRV", ...
	step  string // the step it came from
	// partial views list one server per direction (the profile).
	partial            bool
	incoming, outgoing []clientrules.Server
}

// viewOf returns the first view of a kind, or nil.
func (c *checker) viewOf(kind string) *view {
	for _, v := range c.views {
		if v.kind == kind {
			return v
		}
	}
	return nil
}

// buildViews reads the settings each source gives its clients, and picks the
// reference the others are compared with: the configuration when given, else the
// first autoconfig document, else Outlook's, else the SRV records.
func (c *checker) buildViews() {
	c.views = nil
	addDistinct := func(v *view) {
		for _, o := range c.views {
			if o.kind == v.kind && serverList(o.incoming, o.outgoing) == serverList(v.incoming, v.outgoing) {
				return
			}
		}
		c.views = append(c.views, v)
	}
	for _, a := range c.autoconfig {
		r := a.resp
		if r.err != nil || r.status != 200 {
			continue
		}
		if tb, err := clientrules.Thunderbird(r.body, r.contentType()); err == nil {
			addDistinct(&view{kind: "autoconfig", label: "autoconfig", step: a.id, incoming: tb.Incoming, outgoing: tb.Outgoing})
		}
	}
	for _, u := range c.poxURLs() {
		r := c.pox[u]
		if r == nil || r.err != nil || r.status != 200 {
			continue
		}
		p, err := clientrules.ParsePOX(r.body)
		if err != nil || p.Error != nil {
			continue
		}
		v := &view{kind: "outlook", label: "Outlook", step: u}
		for _, pr := range p.Protocols {
			if s := pr.Server(); s.Incoming() {
				v.incoming = append(v.incoming, s)
			} else {
				v.outgoing = append(v.outgoing, s)
			}
		}
		addDistinct(v)
	}
	if v := c.srvView(); v != nil {
		c.views = append(c.views, v)
	}
	if r := c.profile; r != nil && r.err == nil && r.status == 200 {
		if p, err := clientrules.ParseProfile(r.body); err == nil {
			c.views = append(c.views, &view{kind: "profile", label: c.t("view.profile"), step: "apple.profile", partial: true,
				incoming: []clientrules.Server{p.Incoming}, outgoing: []clientrules.Server{p.Outgoing}})
		}
	}
	if r := c.setup; r != nil && r.err == nil && r.status == 200 {
		if in, out := setupServers(r.body); len(in)+len(out) > 0 {
			c.views = append(c.views, &view{kind: "setup", label: c.t("view.setup"), step: "apple.setup", incoming: in, outgoing: out})
		}
	}
	// Several documents of one kind that differ are told apart by their step.
	for _, v := range c.views {
		n := 0
		for _, o := range c.views {
			if o.kind == v.kind {
				n++
			}
		}
		if n > 1 {
			v.label += " (" + v.step + ")"
		}
	}
	if cv := c.configView(); cv != nil {
		c.ref = cv
		return
	}
	for _, kind := range []string{"autoconfig", "outlook", "srv"} {
		if v := c.viewOf(kind); v != nil {
			c.ref = v
			return
		}
	}
}

// poxURLs are the URLs posted to, in the report's order.
func (c *checker) poxURLs() []string {
	var out []string
	for u := range c.pox {
		out = append(out, u)
	}
	slices.SortStableFunc(out, func(a, b string) int {
		if d := c.poxOrder(a) - c.poxOrder(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return out
}

// srvView reads the SRV records as an RFC 6186 client: every real target, lowest
// priority first, IMAP and POP3 compared with each other (RFC 6186 §3.4).
func (c *checker) srvView() *view {
	type rec struct {
		s        clientrules.Server
		priority int
		weight   int
		order    int
	}
	var in, out []rec
	for i, svc := range srvServices {
		typ, socket, _ := clientrules.ServiceServer(svc)
		for _, rr := range srvRecords(c.srv[svc]) {
			if rr.Target == "." {
				continue
			}
			r := rec{clientrules.Server{Type: typ, Hostname: trimDot(rr.Target), Port: int(rr.Port), Socket: socket}, int(rr.Priority), int(rr.Weight), i}
			if r.s.Incoming() {
				in = append(in, r)
			} else {
				out = append(out, r)
			}
		}
	}
	if len(in)+len(out) == 0 {
		return nil
	}
	order := func(a, b rec) int {
		if a.priority != b.priority {
			return a.priority - b.priority
		}
		if a.weight != b.weight {
			return b.weight - a.weight
		}
		return a.order - b.order
	}
	slices.SortStableFunc(in, order)
	slices.SortStableFunc(out, order)
	v := &view{kind: "srv", label: "SRV", step: "srv.usable"}
	for _, r := range in {
		v.incoming = append(v.incoming, r.s)
	}
	for _, r := range out {
		v.outgoing = append(v.outgoing, r.s)
	}
	return v
}

// setupServers reads the servers table of mailconf's setup page (English): a row per
// server with the protocol, host, port and security.
func setupServers(body []byte) (in, out []clientrules.Server) {
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		return nil, nil
	}
	var table *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if table != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "table" && attr(n, "id") == "servers" {
			table = n
			return
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			find(ch)
		}
	}
	find(doc)
	if table == nil {
		return nil, nil
	}
	var rows []*html.Node
	var collect func(n *html.Node)
	collect = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			rows = append(rows, n)
			return
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			collect(ch)
		}
	}
	collect(table)
	for _, row := range rows {
		var cells []string
		for ch := row.FirstChild; ch != nil; ch = ch.NextSibling {
			if ch.Type == html.ElementNode && (ch.Data == "th" || ch.Data == "td") {
				cells = append(cells, strings.TrimSpace(text(ch)))
			}
		}
		if len(cells) < 4 {
			continue
		}
		typ := strings.ToLower(strings.Fields(cells[0] + " x")[0])
		port, err := strconv.Atoi(cells[2])
		if err != nil || (typ != clientrules.TypeIMAP && typ != clientrules.TypePOP3 && typ != clientrules.TypeSMTP) {
			continue
		}
		socket := clientrules.SocketPlain
		switch cells[3] {
		case "SSL/TLS":
			socket = clientrules.SocketSSL
		case "STARTTLS":
			socket = clientrules.SocketSTARTTLS
		}
		s := clientrules.Server{Type: typ, Hostname: cells[1], Port: port, Socket: socket}
		if s.Incoming() {
			in = append(in, s)
		} else {
			out = append(out, s)
		}
	}
	return in, out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
		b.WriteString(text(ch))
	}
	return b.String()
}
