// Package zone builds the authoritative DNS zones that publish a mailconf catalog (RFC 6186, RFC 6764, RFC 8461 records) and answers lookups in them.
//
// It is the only place that turns the provider model into resource records; the
// server in package dnssrv deals with transports and the wire format. The zones of one
// provider share a template of relative records, so a hundred thousand domains cost a
// few hundred bytes each; records are made when they are asked for.
package zone

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/parallel"
)

// ErrBadCatalog is wrapped by every error Build returns for a catalog it cannot
// turn into zones.
var ErrBadCatalog = errors.New("zone: catalog cannot be published in DNS")

// Set is every zone built from one catalog. It is immutable once its serials are set
// (SetSerials, SetSerial), and then safe for concurrent use.
type Set struct {
	zones  map[string]*Zone // apex → zone
	serial uint32           // the latest serial of any zone

	sortOnce sync.Once
	sorted   []*Zone
}

// Zone is one served zone: a configured mail domain, or _tcp under it.
type Zone struct {
	// Apex is the zone's origin, lowercase and fully qualified ("qq.com.").
	Apex string

	domain int // offset in Apex of the mail domain: 0, or after "_tcp."
	t      *template
	serial uint32
	shape  *Shape
}

// Shape groups the zones whose answers are the same but for their apex and serial, and
// compress the same way: the zones of one template whose domains share the same
// suffix with the names the records hold. The DNS server prepares the answers of a
// shape once, from its reference zone.
type Shape struct {
	ref *Zone
	// Own is set when the shape is one zone's alone, its reference the zone itself:
	// a zone that holds names its records point to.
	Own bool
	// Shared is the suffix the domains of the shape's zones share with the names the
	// records hold ("com."; "" for none). A shape of its own has none.
	Shared string
}

// Reference returns the zone the shape's answers are prepared from: a zone of the
// template under an apex no query names, or, for a shape of its own, the zone itself.
func (sh *Shape) Reference() *Zone { return sh.ref }

// Result is the outcome of a lookup. Its records may be shared: callers must not
// modify them.
type Result struct {
	// Rcode is dns.RcodeSuccess (an answer or NODATA), dns.RcodeNameError or
	// dns.RcodeRefused (the name is outside every zone).
	Rcode int
	// Zone is the zone that answered; nil for RcodeRefused. A non-nil Zone means
	// the answer is authoritative.
	Zone *Zone
	// Answer, Ns and Extra are the answer, authority and additional sections.
	Answer, Ns, Extra []dns.RR
}

// Build derives the zones of every served domain, aliases and sourced domains
// included, from the catalog. Serials are 0 until SetSerials or SetSerial.
func Build(cat *mailconf.Catalog) (*Set, error) {
	cfg := cat.DNS
	if len(cfg.Nameservers) == 0 {
		return nil, fmt.Errorf("%w: no nameservers", ErrBadCatalog)
	}
	mbox, err := MailboxName(cfg.Hostmaster)
	if err != nil {
		return nil, err
	}
	s := &Set{zones: make(map[string]*Zone, cat.NumDomains())}
	templates := make([]*template, len(cat.Providers))
	_ = parallel.For(len(templates), func(i int) error {
		templates[i] = providerTemplate(cat, cat.Providers[i], mbox)
		return nil
	})
	for i, p := range cat.Providers {
		t := templates[i]
		for _, d := range cat.DomainsOf(p) {
			apex := Apex(d, cfg.TCPZones)
			if _, dup := s.zones[apex]; dup {
				return nil, fmt.Errorf("%w: domain %s configured twice", ErrBadCatalog, d)
			}
			s.zones[apex] = &Zone{Apex: apex, domain: domainOffset(apex, cfg.TCPZones), t: t}
		}
	}
	// Name servers named inside a served zone get their addresses there, so the
	// delegation is not lame (RFC 1034 §4.2.2: glue in the parent, data in the zone).
	// That zone's records differ from its provider's: it gets a template of its own.
	own := map[*Zone]bool{}
	for _, name := range slices.SortedFunc(maps.Keys(cfg.NameserverAddresses), func(a, b mailconf.Domain) int { return a.Compare(b) }) {
		owner := name.FQDN()
		z, rel := s.find(owner)
		if z == nil {
			continue
		}
		if !own[z] {
			z.t = z.t.clone()
			templates = append(templates, z.t)
			own[z] = true
		}
		rel, _ = z.t.domainRelative(rel)
		for _, ip := range cfg.NameserverAddresses[name] {
			z.t.add(rel, proto{rr: addressRR("", ip, cfg.TTL)})
		}
	}
	_ = parallel.For(len(templates), func(i int) error { templates[i].finish(); return nil })
	// Each template's own records; the others' only read.
	_ = parallel.For(len(templates), func(i int) error { s.additional(templates[i]); return nil })
	for _, z := range s.zones {
		z.shape = z.t.shapeOf(z, own[z])
	}
	return s, nil
}

// domainRelative turns an owner relative to the apex into one relative to the domain.
func (t *template) domainRelative(rel string) (string, bool) {
	if !t.tcp {
		return rel, true
	}
	if rel == "" {
		return "_tcp", true
	}
	return rel + "._tcp", true
}

// Apex returns the apex of the zone that publishes domain d: d itself, or with
// tcpZones _tcp.<d>, which holds every SRV owner name (RFC 6186 §3, RFC 8314 §5.1,
// RFC 6764 §3) and can be delegated alone.
func Apex(d mailconf.Domain, tcpZones bool) string {
	if tcpZones {
		return "_tcp." + d.FQDN()
	}
	return d.FQDN()
}

// domainOffset is where the mail domain starts in an apex.
func domainOffset(apex string, tcp bool) int {
	if tcp {
		return len("_tcp.")
	}
	return 0
}

// additional precomputes the additional-section records of the SRV RRsets of t: the
// addresses of targets we hold (RFC 2782 urges them). A target under the zone's own
// domain is found in the template; any other in the zone that holds it, whose
// records are then copied whole. NS answers stay minimal, as with NSD's
// minimal-responses: a small NS query cannot draw a large answer.
func (s *Set) additional(t *template) {
	for _, n := range t.nodes {
		n.extra = nil
		for _, p := range n.rrsets[dns.TypeSRV] {
			srv := p.rr.(*dns.SRV)
			var found []proto
			switch {
			case srv.Target == ".":
			case p.perDomain:
				if t.tcp {
					break // under <d>, outside the zone _tcp.<d>
				}
				rel := strings.TrimSuffix(srv.Target, ".")
				if tn := t.nodes[rel]; tn != nil {
					for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
						for _, ap := range tn.rrsets[typ] {
							ap.moved, ap.owner = true, rel
							found = append(found, ap)
						}
					}
				}
			default:
				z, rel := s.find(strings.ToLower(srv.Target))
				if z == nil {
					break
				}
				if tn := z.t.nodes[rel]; tn != nil {
					for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA} {
						for _, ap := range tn.rrsets[typ] {
							found = append(found, proto{rr: z.make(rel, ap), absolute: true})
						}
					}
				}
			}
			if len(found) == 0 {
				continue
			}
			if n.extra == nil {
				n.extra = map[uint16][]proto{}
			}
			for _, f := range found {
				if !slices.ContainsFunc(n.extra[dns.TypeSRV], func(have proto) bool { return sameProto(have, f) }) {
					n.extra[dns.TypeSRV] = append(n.extra[dns.TypeSRV], f)
				}
			}
		}
	}
}

func sameProto(a, b proto) bool {
	return a.absolute == b.absolute && a.perDomain == b.perDomain && a.moved == b.moved && a.owner == b.owner && dns.IsDuplicate(a.rr, b.rr)
}

// shapeOf returns the shape of zone z: its own when it holds names its records point
// to, else the template's shape for the longest suffix of z's domain that is also a
// suffix of such a name. Zones of one shape compress every answer alike, since the
// names they share with the records end the same way (RFC 1035 §4.1.4).
func (t *template) shapeOf(z *Zone, own bool) *Shape {
	domain := z.Apex[z.domain:]
	shared := ""
	for off, end := 0, false; !end; off, end = dns.NextLabel(domain, off) {
		if t.literal[domain[off:]] {
			shared = domain[off:]
			break
		}
	}
	if own || shared == domain {
		return &Shape{ref: z, Own: true}
	}
	if sh := t.shapes[shared]; sh != nil {
		return sh
	}
	// The reference apex: a label no record name holds, then the shared suffix.
	label := "mailconf-ref"
	for i := 0; t.literal[label+"."+shared]; i++ {
		label = fmt.Sprintf("mailconf-ref%d", i)
	}
	apex := label + "." + shared
	if t.tcp {
		apex = "_tcp." + apex
	}
	sh := &Shape{ref: &Zone{Apex: apex, domain: domainOffset(apex, t.tcp), t: t}, Shared: shared}
	sh.ref.shape = sh
	t.shapes[shared] = sh
	return sh
}

// find returns the zone with the longest apex that name (lowercase, fully qualified)
// is at or below, and name relative to that apex ("" at the apex); nil outside every
// zone.
func (s *Set) find(name string) (*Zone, string) {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z, ok := s.zones[name[off:]]; ok {
			if off == 0 {
				return z, ""
			}
			return z, name[:off-1]
		}
	}
	return nil, ""
}

// SetSerial gives every zone the same serial. For tests and one-off exports.
func (s *Set) SetSerial(serial uint32) {
	s.serial = serial
	for _, z := range s.zones {
		z.serial = serial
	}
}

// SetSerials gives each zone its serial: its serial in prev when its records are the
// same, else next(its serial in prev, or 0 for a new zone). Secondaries then transfer
// and are notified of the zones that changed only. Call it once, before the set is
// shared.
func (s *Set) SetSerials(prev *Set, next func(old uint32) uint32) {
	first := true
	for _, z := range s.zones {
		var old *Zone
		if prev != nil {
			old = prev.zones[z.Apex]
		}
		switch {
		case old != nil && old.t.sum() == z.t.sum():
			z.serial = old.serial
		case old != nil:
			z.serial = next(old.serial)
		default:
			z.serial = next(0)
		}
		if first || serialGreater(z.serial, s.serial) {
			s.serial, first = z.serial, false
		}
	}
}

// serialGreater reports whether a > b in RFC 1982 §3.2 serial arithmetic.
func serialGreater(a, b uint32) bool { return a != b && a-b < 1<<31 }

// Changed returns the zones whose serial is not the one they had in prev (all of
// them when prev is nil), sorted by apex.
func (s *Set) Changed(prev *Set) []*Zone {
	var out []*Zone
	for _, z := range s.Zones() {
		if prev == nil {
			out = append(out, z)
			continue
		}
		if old := prev.zones[z.Apex]; old == nil || old.serial != z.serial {
			out = append(out, z)
		}
	}
	return out
}

// Serial returns the latest serial of any zone.
func (s *Set) Serial() uint32 { return s.serial }

// Len returns the number of zones.
func (s *Set) Len() int { return len(s.zones) }

// Zone returns the zone whose apex is name (lowercase, fully qualified), or nil.
func (s *Set) Zone(name string) *Zone { return s.zones[name] }

// Zones returns the zones, sorted by apex. The slice is shared: do not modify it.
func (s *Set) Zones() []*Zone {
	s.sortOnce.Do(func() {
		s.sorted = slices.Collect(maps.Values(s.zones))
		slices.SortFunc(s.sorted, func(x, y *Zone) int { return strings.Compare(x.Apex, y.Apex) })
	})
	return s.sorted
}

// EmptyNonTerminals returns the names that exist only because names below them own
// records (RFC 8020), each with its zone.
func (s *Set) EmptyNonTerminals() map[string]*Zone {
	out := map[string]*Zone{}
	for _, z := range s.zones {
		for rel := range z.t.ents {
			out[z.name(rel)] = z
		}
	}
	return out
}

// Lookup answers a query for name (lowercase, fully qualified) and qtype in class
// IN. Zone transfers and other meta-queries are the caller's business.
func (s *Set) Lookup(name string, qtype uint16) Result {
	z, rel := s.find(name)
	if z == nil {
		return Result{Rcode: dns.RcodeRefused}
	}
	return z.lookup(rel, qtype)
}

// Lookup answers a query for name, which must be at or below the apex.
func (z *Zone) Lookup(name string, qtype uint16) Result {
	rel := ""
	if name != z.Apex {
		rel = strings.TrimSuffix(name, "."+z.Apex)
	}
	return z.lookup(rel, qtype)
}

func (z *Zone) lookup(rel string, qtype uint16) Result {
	if n := z.t.nodes[rel]; n != nil {
		if qtype == dns.TypeANY {
			// RFC 8482 §4.2: answer ANY with one synthesised HINFO record.
			return Result{Zone: z, Answer: []dns.RR{&dns.HINFO{
				Hdr: hdr(z.name(rel), dns.TypeHINFO, z.SOA().Hdr.Ttl), Cpu: "RFC8482", Os: "",
			}}}
		}
		if ps, ok := n.rrsets[qtype]; ok {
			return Result{Zone: z, Answer: z.makeAll(rel, ps), Extra: z.makeAll(rel, n.extra[qtype])}
		}
		return z.Negative(dns.RcodeSuccess)
	}
	if z.t.ents[rel] {
		return z.Negative(dns.RcodeSuccess) // RFC 8020
	}
	return z.Negative(dns.RcodeNameError)
}

// name returns the owner name of rel in the zone.
func (z *Zone) name(rel string) string {
	if rel == "" {
		return z.Apex
	}
	return rel + "." + z.Apex
}

// make returns the record p of owner rel in this zone.
func (z *Zone) make(rel string, p proto) dns.RR {
	if p.absolute {
		return p.rr
	}
	rr := dns.Copy(p.rr)
	rr.Header().Name = z.name(rel)
	switch rr := rr.(type) {
	case *dns.SRV:
		if p.perDomain {
			rr.Target += z.Apex[z.domain:]
		}
	case *dns.SOA:
		rr.Serial = z.serial
	}
	return rr
}

// makeAll returns the records of ps, owned by rel unless they were moved.
func (z *Zone) makeAll(rel string, ps []proto) []dns.RR {
	if len(ps) == 0 {
		return nil
	}
	out := make([]dns.RR, 0, len(ps))
	for _, p := range ps {
		owner := rel
		if p.moved {
			owner = p.owner
		}
		out = append(out, z.make(owner, p))
	}
	return out
}

// Domain returns the mail domain the zone publishes, fully qualified: the apex, or
// the apex without its "_tcp." label.
func (z *Zone) Domain() string { return z.Apex[z.domain:] }

// Serial returns the zone's SOA serial.
func (z *Zone) Serial() uint32 { return z.serial }

// Shape returns the zone's shape.
func (z *Zone) Shape() *Shape { return z.shape }

// SOA returns the zone's SOA record.
func (z *Zone) SOA() *dns.SOA {
	return z.make("", z.t.nodes[""].rrsets[dns.TypeSOA][0]).(*dns.SOA)
}

// NegativeSOA returns the SOA record that goes in the authority section of NXDOMAIN
// and NODATA answers, its TTL clamped to the SOA MINIMUM (RFC 2308 §5).
func (z *Zone) NegativeSOA() *dns.SOA {
	soa := z.SOA()
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return soa
}

// Negative returns the zone's NODATA (rcode dns.RcodeSuccess) or NXDOMAIN (rcode
// dns.RcodeNameError) answer: the SOA in the authority section (RFC 2308 §3).
func (z *Zone) Negative(rcode int) Result {
	return Result{Rcode: rcode, Zone: z, Ns: []dns.RR{z.NegativeSOA()}}
}

// Owner is a name of a zone that owns records, with their types.
type Owner struct {
	Name  string
	Types []uint16 // ascending
}

// Owners returns the names of the zone that own records, in canonical order.
func (z *Zone) Owners() []Owner {
	out := make([]Owner, 0, len(z.t.order))
	for _, rel := range z.t.order {
		n := z.t.nodes[rel]
		out = append(out, Owner{Name: z.name(rel), Types: slices.Sorted(maps.Keys(n.rrsets))})
	}
	return out
}

// Records returns every record of the zone: the apex first (SOA, then NS), then the
// other owners in canonical order (RFC 4034 §6.1).
func (z *Zone) Records() []dns.RR {
	var out []dns.RR
	for _, rel := range z.t.order {
		n := z.t.nodes[rel]
		for _, typ := range orderTypes(slices.Collect(maps.Keys(n.rrsets))) {
			for _, p := range n.rrsets[typ] {
				out = append(out, z.make(rel, p))
			}
		}
	}
	return out
}

// Text returns the zone in master-file format (RFC 1035 §5), absolute names, SOA
// first: what an admin can copy into another server.
func (z *Zone) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "; zone %s, generated by mailconf\n", z.Apex)
	for _, rr := range z.Records() {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// orderTypes puts SOA first and NS second, the rest in numeric order.
func orderTypes(ts []uint16) []uint16 {
	rank := func(t uint16) int {
		switch t {
		case dns.TypeSOA:
			return -2
		case dns.TypeNS:
			return -1
		}
		return int(t)
	}
	slices.SortFunc(ts, func(a, b uint16) int { return rank(a) - rank(b) })
	return ts
}

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// compareNames orders names canonically (RFC 4034 §6.1): by labels from the right.
func compareNames(a, b string) int {
	la, lb := dns.SplitDomainName(a), dns.SplitDomainName(b)
	for i, j := len(la)-1, len(lb)-1; i >= 0 && j >= 0; i, j = i-1, j-1 {
		if c := strings.Compare(la[i], lb[j]); c != 0 {
			return c
		}
	}
	return len(la) - len(lb)
}

// MailboxName turns an email address into the domain-name form of an SOA RNAME
// (RFC 1035 §8): the local part becomes the first label, its dots escaped.
func MailboxName(a mailconf.Address) (string, error) {
	var b strings.Builder
	for i := 0; i < len(a.LocalPart); i++ {
		c := a.LocalPart[i]
		switch {
		case c < 0x21 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03d", c)
		case strings.IndexByte(`.\"();@$`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('.')
	b.WriteString(a.Domain.FQDN())
	name := b.String()
	if _, ok := dns.IsDomainName(name); !ok {
		return "", fmt.Errorf("%w: hostmaster %q does not fit in a domain name", ErrBadCatalog, a)
	}
	return name, nil
}
