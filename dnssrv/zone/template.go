package zone

import (
	"crypto/sha256"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// A template is the records every domain of one provider publishes, with owner names
// relative to the zone apex: the zones of a provider's thousands of domains share one,
// and records are made for a zone when they are asked for. A zone whose records differ
// from its provider's (it holds name server addresses) has a template of its own.
type template struct {
	tcp   bool             // the apex is _tcp.<domain>
	nodes map[string]*node // relative owner ("" at the apex, "_imaps._tcp") → records
	order []string         // the owners, apex first, then in canonical order (RFC 4034 §6.1)
	ents  map[string]bool  // relative empty non-terminals (RFC 8020)

	digestOnce sync.Once
	digest     [sha256.Size]byte // of the records, made when a reload compares zones

	// literal holds every label suffix (fully qualified) of the names the records hold
	// whatever the domain (name servers, the SOA mailbox, literal SRV targets): how a
	// response compresses depends on which of them an apex shares (fast path, shapes).
	literal map[string]bool
	shapes  map[string]*Shape // by the longest such suffix a zone's domain has
}

// node is the records of one relative owner name.
type node struct {
	rrsets map[uint16][]proto
	extra  map[uint16][]proto // additional-section records of an RRset
}

// proto is a record of a template. Its owner is left empty and filled in for a zone:
// the node's, or for an additional record that is not the node's, owner (relative to
// the apex) with moved set. A record with perDomain set is an SRV record whose target
// is the prefix its Target holds ("imap.") followed by the zone's domain. A proto with
// absolute set is a whole record (an address from another zone), used as it is.
type proto struct {
	rr        dns.RR
	perDomain bool
	absolute  bool
	moved     bool
	owner     string
}

func newTemplate(tcp bool) *template {
	return &template{tcp: tcp, nodes: map[string]*node{}, ents: map[string]bool{}, literal: map[string]bool{}, shapes: map[string]*Shape{}}
}

// add puts a record under the owner rel, relative to the domain ("" for the domain
// itself), skipping exact duplicates. With tcp zones, only owners inside _tcp.<d>
// are kept.
func (t *template) add(rel string, p proto) {
	owner, ok := t.apexRelative(rel)
	if !ok {
		return
	}
	n := t.nodes[owner]
	if n == nil {
		n = &node{rrsets: map[uint16][]proto{}}
		t.nodes[owner] = n
	}
	typ := p.rr.Header().Rrtype
	for _, have := range n.rrsets[typ] {
		if have.perDomain == p.perDomain && dns.IsDuplicate(have.rr, p.rr) {
			return
		}
	}
	n.rrsets[typ] = append(n.rrsets[typ], p)
}

// addApex puts a record at the zone apex, whatever the apex is.
func (t *template) addApex(rr dns.RR) {
	rel := ""
	if t.tcp {
		rel = "_tcp"
	}
	t.add(rel, proto{rr: rr})
}

// apexRelative turns an owner relative to the domain into one relative to the apex.
func (t *template) apexRelative(rel string) (string, bool) {
	if !t.tcp {
		return rel, true
	}
	if rel == "_tcp" {
		return "", true
	}
	owner, ok := strings.CutSuffix(rel, "._tcp")
	return owner, ok
}

// noteLiteral records a name the records hold whatever the domain.
func (t *template) noteLiteral(name string) {
	name = strings.ToLower(name)
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		t.literal[name[off:]] = true
	}
}

// finish computes what lookups need: the order and the empty non-terminals.
func (t *template) finish() {
	t.order = slices.Collect(maps.Keys(t.nodes))
	slices.SortFunc(t.order, func(x, y string) int {
		if x == "" || y == "" {
			return boolCompare(y == "", x == "")
		}
		return compareNames(x+".", y+".")
	})
	clear(t.ents)
	for _, rel := range t.order {
		// RFC 8020: every ancestor of an owner up to the apex exists.
		for off, end := dns.NextLabel(rel+".", 0); !end; off, end = dns.NextLabel(rel+".", off) {
			anc := strings.TrimSuffix((rel + ".")[off:], ".")
			if _, ok := t.nodes[anc]; !ok {
				t.ents[anc] = true
			}
		}
	}
}

// sum returns the digest of the template's records, which two zones of the same apex
// compare to know whether the zone changed.
func (t *template) sum() [sha256.Size]byte {
	t.digestOnce.Do(func() {
		h := sha256.New()
		if t.tcp {
			h.Write([]byte("tcp\n"))
		}
		ref := &Zone{Apex: digestApex(t.tcp), t: t}
		ref.domain = domainOffset(ref.Apex, t.tcp)
		for _, rr := range ref.Records() {
			h.Write([]byte(rr.String()))
			h.Write([]byte{'\n'})
		}
		h.Sum(t.digest[:0])
	})
	return t.digest
}

// digestApex is the apex records are written under for a template's digest.
func digestApex(tcp bool) string {
	if tcp {
		return "_tcp.template.invalid."
	}
	return "template.invalid."
}

// clone returns a copy of t that can take records of its own.
func (t *template) clone() *template {
	c := newTemplate(t.tcp)
	for rel, n := range t.nodes {
		cn := &node{rrsets: map[uint16][]proto{}}
		for typ, ps := range n.rrsets {
			cn.rrsets[typ] = slices.Clone(ps)
		}
		c.nodes[rel] = cn
	}
	maps.Copy(c.literal, t.literal)
	return c
}

// providerTemplate derives the records a provider's domains publish.
func providerTemplate(cat *mailconf.Catalog, p *mailconf.Provider, mbox string) *template {
	cfg := cat.DNS
	ttl := cfg.TTL
	t := newTemplate(cfg.TCPZones)
	soa := &dns.SOA{
		Hdr:     hdr("", dns.TypeSOA, ttl),
		Ns:      cfg.Nameservers[0].FQDN(),
		Mbox:    mbox,
		Refresh: cfg.Refresh,
		Retry:   cfg.Retry,
		Expire:  cfg.Expire,
		Minttl:  cfg.NegativeTTL,
	}
	t.noteLiteral(soa.Ns)
	t.noteLiteral(soa.Mbox)
	// RFC 1034 §4.2.1, RFC 8906 §3.1.1: SOA and NS at every apex.
	t.addApex(soa)
	for _, ns := range cfg.Nameservers {
		t.addApex(&dns.NS{Hdr: hdr("", dns.TypeNS, ttl), Ns: ns.FQDN()})
		t.noteLiteral(ns.FQDN())
	}
	weight := *cfg.Weight
	// RFC 6186 §3.4: priority is compared across services, so the preferred incoming
	// server gets the lowest number whatever its protocol; outgoing servers are
	// numbered the same way among themselves.
	offered := map[string]bool{}
	for _, list := range [][]mailconf.Server{p.Incoming, p.Outgoing} {
		for i, s := range list {
			svc := s.SRVService()
			if svc == "" {
				continue
			}
			rel := srvOwner(string(svc))
			offered[rel] = true
			srv := &dns.SRV{Hdr: hdr("", dns.TypeSRV, ttl), Priority: uint16(min(10*i, 65535)), Weight: weight, Port: uint16(s.Port)}
			if s.Hostname.PerDomain() {
				srv.Target = s.Hostname.Prefix()
				t.add(rel, proto{rr: srv, perDomain: true})
				continue
			}
			srv.Target = s.Hostname.String() + "."
			t.noteLiteral(srv.Target)
			t.add(rel, proto{rr: srv})
		}
	}
	// RFC 6186 §3.4 and RFC 2782: a target of "." says the service is decidedly not
	// available; clients honour it only when it is the sole record of its set.
	for _, svc := range p.NotOffered {
		if rel := srvOwner(string(svc)); !offered[rel] {
			t.add(rel, proto{rr: &dns.SRV{Hdr: hdr("", dns.TypeSRV, ttl), Target: "."}})
		}
	}
	if ad := cat.Autodiscover; !ad.Host.IsZero() {
		// MS-OXDSCLI: Outlook builds https://<target>/autodiscover/autodiscover.xml and
		// ignores the port.
		t.add(srvOwner(string(mailconf.ServiceAutodiscover)), proto{rr: &dns.SRV{Hdr: hdr("", dns.TypeSRV, ttl), Port: ad.Port, Target: ad.Host.FQDN()}})
		t.noteLiteral(ad.Host.FQDN())
	}
	addDAV(t, "caldav", p.Calendars, weight, ttl)
	addDAV(t, "carddav", p.Contacts, weight, ttl)
	if m := p.MTASTS; m != nil {
		// RFC 8461 §3.1 and RFC 8460 §3.
		t.add("_mta-sts", proto{rr: &dns.TXT{Hdr: hdr("", dns.TypeTXT, ttl), Txt: []string{m.TXT()}}})
		if rpt := m.ReportTXT(); rpt != "" {
			t.add("_smtp._tls", proto{rr: &dns.TXT{Hdr: hdr("", dns.TypeTXT, ttl), Txt: []string{rpt}}})
		}
	}
	hosts := []string{strings.TrimSuffix(mailconf.AutoconfigPrefix, "."), strings.TrimSuffix(mailconf.AutodiscoverPrefix, ".")}
	if p.MTASTS != nil {
		hosts = append(hosts, strings.TrimSuffix(mailconf.MTASTSPrefix, "."))
	}
	for _, host := range hosts {
		for _, ip := range cfg.Addresses {
			t.add(host, proto{rr: addressRR("", ip, ttl)})
		}
	}
	return t
}

// addDAV publishes CalDAV or CardDAV services (RFC 6764 §3, §4): the TLS services
// under _<svc>s._tcp and the plain ones under _<svc>._tcp, each with a TXT record
// giving the context path; a variant with no service says "not offered" (RFC 2782
// target ".") so clients need not probe it.
func addDAV(t *template, svc string, list []mailconf.DAVService, weight uint16, ttl uint32) {
	if len(list) == 0 {
		return
	}
	for _, tls := range []bool{true, false} {
		rel := srvOwner(svc)
		if tls {
			rel = srvOwner(svc + "s")
		}
		n := 0
		for _, s := range list {
			if (s.URL.Scheme == "https") != tls {
				continue
			}
			target := s.Host.FQDN()
			t.noteLiteral(target)
			t.add(rel, proto{rr: &dns.SRV{Hdr: hdr("", dns.TypeSRV, ttl), Priority: uint16(min(10*n, 65535)), Weight: weight, Port: s.Port, Target: target}})
			if n == 0 {
				// RFC 6763 §6 key=value, one string; the validator keeps it printable.
				t.add(rel, proto{rr: &dns.TXT{Hdr: hdr("", dns.TypeTXT, ttl), Txt: []string{"path=" + s.Path()}}})
			}
			n++
		}
		if n == 0 {
			t.add(rel, proto{rr: &dns.SRV{Hdr: hdr("", dns.TypeSRV, ttl), Target: "."}})
		}
	}
}

// srvOwner is the owner of a service's SRV records relative to the domain.
func srvOwner(svc string) string { return "_" + svc + "._tcp" }

func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

func addressRR(name string, ip netip.Addr, ttl uint32) dns.RR {
	if ip.Is4() {
		return &dns.A{Hdr: hdr(name, dns.TypeA, ttl), A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl), AAAA: ip.AsSlice()}
}
