// Package zone builds the authoritative DNS zones that publish a mailconf catalog as RFC 6186 and RFC 8314 SRV records, and answers lookups in them.
//
// It is the only place that turns the provider model into resource records; the
// server in package dnssrv deals with transports and the wire format.
package zone

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// ErrBadCatalog is wrapped by every error Build returns for a catalog it cannot
// turn into zones.
var ErrBadCatalog = errors.New("zone: catalog cannot be published in DNS")

// Set is every zone built from one catalog. It is immutable once SetSerial has been
// called, and then safe for concurrent use.
type Set struct {
	zones  []*Zone           // sorted by apex
	byApex map[string]*Zone  // apex → zone
	nodes  map[string]*Node  // owner name → node; each owner lives in its longest-matching zone
	ents   map[string]*Zone  // empty non-terminal → its zone (RFC 8020)
	digest [sha256.Size]byte // of every record, serial left out
	serial uint32
}

// Zone is one served zone: a configured mail domain.
type Zone struct {
	// Apex is the zone's origin, lowercase and fully qualified ("qq.com.").
	Apex string

	soa    *dns.SOA // at the apex
	negSOA *dns.SOA // the SOA of negative answers, TTL clamped (RFC 2308 §5)
	set    *Set
	owners []*Node // the nodes in this zone, filled by assign
}

// Node is a name that owns records.
type Node struct {
	// Name is the owner, lowercase and fully qualified.
	Name string
	// Zone is the zone the name belongs to.
	Zone *Zone

	rrsets map[uint16][]dns.RR // type → RRset, in publication order
	extra  map[uint16][]dns.RR // type → additional-section records for that RRset
}

// Result is the outcome of a lookup. Its records are shared: callers must not
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

// Build derives the zones of every configured domain, aliases included, from the
// catalog. The SOA serial is 0 until SetSerial is called.
func Build(cat *mailconf.Catalog) (*Set, error) {
	b := &builder{
		cat:   cat,
		set:   &Set{byApex: map[string]*Zone{}, nodes: map[string]*Node{}, ents: map[string]*Zone{}},
		names: map[string]map[uint16][]dns.RR{},
	}
	if err := b.build(); err != nil {
		return nil, err
	}
	return b.set, nil
}

type builder struct {
	cat   *mailconf.Catalog
	set   *Set
	names map[string]map[uint16][]dns.RR // owner → type → records, before zone assignment
}

func (b *builder) build() error {
	cfg := b.cat.DNS
	if len(cfg.Nameservers) == 0 {
		return fmt.Errorf("%w: no nameservers", ErrBadCatalog)
	}
	mbox, err := MailboxName(cfg.Hostmaster)
	if err != nil {
		return err
	}
	weight := *cfg.Weight
	ad := b.cat.Autodiscover
	ttl := cfg.TTL

	for _, p := range b.cat.Providers {
		for _, d := range b.cat.DomainsOf(p) {
			apex := Apex(d, cfg.TCPZones)
			if _, dup := b.set.byApex[apex]; dup {
				return fmt.Errorf("%w: domain %s configured twice", ErrBadCatalog, d)
			}
			z := &Zone{Apex: apex, set: b.set}
			z.soa = &dns.SOA{
				Hdr:     dns.RR_Header{Name: apex, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
				Ns:      cfg.Nameservers[0].FQDN(),
				Mbox:    mbox,
				Refresh: cfg.Refresh,
				Retry:   cfg.Retry,
				Expire:  cfg.Expire,
				Minttl:  cfg.NegativeTTL,
			}
			// RFC 2308 §5: the TTL of the SOA in a negative answer is the minimum of
			// the SOA's own TTL and its MINIMUM field.
			z.negSOA = dns.Copy(z.soa).(*dns.SOA)
			z.negSOA.Hdr.Ttl = min(z.soa.Hdr.Ttl, z.soa.Minttl)
			b.set.byApex[apex] = z
			b.set.zones = append(b.set.zones, z)

			// RFC 1034 §4.2.1, RFC 8906 §3.1.1: SOA and NS at every apex.
			b.add(z.soa)
			for _, ns := range cfg.Nameservers {
				b.add(&dns.NS{Hdr: hdr(apex, dns.TypeNS, ttl), Ns: ns.FQDN()})
			}
			b.addSRVs(d, p, weight, ttl)
			if !ad.Host.IsZero() {
				// MS-OXDSCLI: Outlook builds https://<target>/autodiscover/autodiscover.xml
				// and ignores the port.
				b.add(&dns.SRV{Hdr: hdr(mailconf.ServiceAutodiscover.Owner(d), dns.TypeSRV, ttl), Port: ad.Port, Target: ad.Host.FQDN()})
			}
			for _, host := range []mailconf.Domain{d.Autoconfig(), d.Autodiscover()} {
				if cfg.TCPZones {
					break // outside the zone _tcp.<d>
				}
				for _, ip := range cfg.Addresses {
					b.add(addressRR(host.FQDN(), ip, ttl))
				}
			}
		}
	}
	// Nameservers named inside a served zone get their addresses there, so the
	// delegation is not lame (RFC 1034 §4.2.2: glue in the parent, data in the zone).
	for name, ips := range cfg.NameserverAddresses {
		owner := name.FQDN()
		if b.set.zoneOf(owner) == nil {
			continue
		}
		for _, ip := range ips {
			b.add(addressRR(owner, ip, ttl))
		}
	}
	slices.SortFunc(b.set.zones, func(x, y *Zone) int { return strings.Compare(x.Apex, y.Apex) })
	b.assign()
	b.set.digest = b.set.computeDigest()
	return nil
}

// Apex returns the apex of the zone that publishes domain d: d itself, or with
// tcpZones _tcp.<d>, which holds every SRV owner name (RFC 6186 §3, RFC 8314 §5.1) and
// can be delegated alone.
func Apex(d mailconf.Domain, tcpZones bool) string {
	if tcpZones {
		return "_tcp." + d.FQDN()
	}
	return d.FQDN()
}

// addSRVs publishes the provider's servers under one domain.
func (b *builder) addSRVs(d mailconf.Domain, p *mailconf.Provider, weight uint16, ttl uint32) {
	// RFC 6186 §3.4: priority is compared across services, so the preferred
	// incoming server gets the lowest number whatever its protocol; outgoing
	// servers are numbered the same way among themselves.
	for _, list := range [][]mailconf.Server{p.Incoming, p.Outgoing} {
		for i, s := range list {
			svc := s.SRVService()
			if svc == "" {
				continue
			}
			b.add(&dns.SRV{
				Hdr:      hdr(svc.Owner(d), dns.TypeSRV, ttl),
				Priority: uint16(min(10*i, 65535)),
				Weight:   weight,
				Port:     uint16(s.Port),
				Target:   s.Hostname.For(d).FQDN(),
			})
		}
	}
	// RFC 6186 §3.4 and RFC 2782: a target of "." says the service is decidedly
	// not available; clients honour it only when it is the sole record of its set.
	for _, svc := range p.NotOffered {
		owner := svc.Owner(d)
		if len(b.names[owner][dns.TypeSRV]) > 0 {
			continue // offered after all (the validator rejects this); never mix
		}
		b.add(&dns.SRV{Hdr: hdr(owner, dns.TypeSRV, ttl), Target: "."})
	}
}

func hdr(name string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

func addressRR(name string, ip netip.Addr, ttl uint32) dns.RR {
	if ip.Is4() {
		return &dns.A{Hdr: hdr(name, dns.TypeA, ttl), A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: hdr(name, dns.TypeAAAA, ttl), AAAA: ip.AsSlice()}
}

// add appends rr to its RRset, skipping exact duplicates.
func (b *builder) add(rr dns.RR) {
	h := rr.Header()
	h.Name = strings.ToLower(h.Name)
	types := b.names[h.Name]
	if types == nil {
		types = map[uint16][]dns.RR{}
		b.names[h.Name] = types
	}
	for _, have := range types[h.Rrtype] {
		if dns.IsDuplicate(have, rr) {
			return
		}
	}
	types[h.Rrtype] = append(types[h.Rrtype], rr)
}

// assign places every owner in the zone with the longest matching apex, records the
// empty non-terminals between owners and their apex, and precomputes the
// additional-section records.
func (b *builder) assign() {
	s := b.set
	for name, types := range b.names {
		z := s.zoneOf(name)
		if z == nil {
			continue // cannot happen: every owner is built under a configured domain
		}
		n := &Node{Name: name, Zone: z, rrsets: map[uint16][]dns.RR{}}
		for t, rrs := range types {
			if len(rrs) > 0 {
				n.rrsets[t] = rrs
			}
		}
		s.nodes[name] = n
		z.owners = append(z.owners, n)
	}
	for name, n := range s.nodes {
		// RFC 8020: every ancestor of an owner, up to the apex, exists; those without
		// records are empty non-terminals and answer NODATA, not NXDOMAIN.
		for off, end := dns.NextLabel(name, 0); !end; off, end = dns.NextLabel(name, off) {
			anc := name[off:]
			if anc == n.Zone.Apex || len(anc) < len(n.Zone.Apex) {
				break
			}
			if _, ok := s.nodes[anc]; !ok {
				s.ents[anc] = n.Zone
			}
		}
	}
	for _, n := range s.nodes {
		n.extra = map[uint16][]dns.RR{}
		// Only SRV answers carry their targets' addresses (RFC 2782 urges it). NS answers
		// stay minimal, as with NSD's minimal-responses: the addresses of in-zone name
		// servers are answered when asked for, and a small NS query cannot draw a large
		// answer from a long name server list.
		if rrs := n.rrsets[dns.TypeSRV]; len(rrs) > 0 {
			if x := s.additional(rrs); len(x) > 0 {
				n.extra[dns.TypeSRV] = x
			}
		}
	}
}

// additional returns the addresses of in-zone targets of SRV and NS records
// (RFC 2782: "urged"; RFC 1035 §3.3.11), only those we hold.
func (s *Set) additional(rrs []dns.RR) []dns.RR {
	var out []dns.RR
	seen := map[string]bool{}
	for _, rr := range rrs {
		var target string
		switch rr := rr.(type) {
		case *dns.SRV:
			target = rr.Target
		case *dns.NS:
			target = rr.Ns
		default:
			continue
		}
		target = strings.ToLower(target)
		if target == "." || seen[target] {
			continue
		}
		seen[target] = true
		if n, ok := s.nodes[target]; ok {
			out = append(out, n.rrsets[dns.TypeA]...)
			out = append(out, n.rrsets[dns.TypeAAAA]...)
		}
	}
	return out
}

// zoneOf returns the zone with the longest apex that name is at or below, or nil.
func (s *Set) zoneOf(name string) *Zone {
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		if z, ok := s.byApex[name[off:]]; ok {
			return z
		}
	}
	return nil
}

// SetSerial sets the SOA serial of every zone. Call it once, before the set is
// shared.
func (s *Set) SetSerial(serial uint32) {
	s.serial = serial
	for _, z := range s.zones {
		z.soa.Serial = serial
		z.negSOA.Serial = serial
	}
}

// Serial returns the SOA serial shared by every zone.
func (s *Set) Serial() uint32 { return s.serial }

// Digest identifies the records of every zone, the serial left out: two sets with
// the same digest publish the same data.
func (s *Set) Digest() [sha256.Size]byte { return s.digest }

func (s *Set) computeDigest() [sha256.Size]byte {
	h := sha256.New()
	for _, z := range s.zones {
		for _, line := range z.lines(0) {
			h.Write([]byte(line))
			h.Write([]byte{'\n'})
		}
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// Zone returns the zone whose apex is name (lowercase, fully qualified), or nil.
func (s *Set) Zone(name string) *Zone { return s.byApex[name] }

// Zones returns the zones, sorted by apex.
func (s *Set) Zones() []*Zone { return slices.Clone(s.zones) }

// Nodes returns every owner name with its zone, in no particular order.
func (s *Set) Nodes() []*Node {
	out := make([]*Node, 0, len(s.nodes))
	for _, n := range s.nodes {
		out = append(out, n)
	}
	return out
}

// EmptyNonTerminals returns the names that exist only because names below them own
// records (RFC 8020), each with its zone.
func (s *Set) EmptyNonTerminals() map[string]*Zone {
	out := make(map[string]*Zone, len(s.ents))
	for n, z := range s.ents {
		out[n] = z
	}
	return out
}

// Types returns the record types the node owns, in ascending order.
func (n *Node) Types() []uint16 {
	ts := make([]uint16, 0, len(n.rrsets))
	for t := range n.rrsets {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// NegativeSOA returns the SOA record that goes in the authority section of NXDOMAIN
// and NODATA answers, its TTL clamped to the SOA MINIMUM (shared; do not modify).
func (z *Zone) NegativeSOA() *dns.SOA { return z.negSOA }

// Lookup answers a query for name (lowercase, fully qualified) and qtype in class
// IN. Zone transfers and other meta-queries are the caller's business.
func (s *Set) Lookup(name string, qtype uint16) Result {
	if n, ok := s.nodes[name]; ok {
		if qtype == dns.TypeANY {
			// RFC 8482 §4.2: answer ANY with one synthesised HINFO record.
			return Result{Zone: n.Zone, Answer: []dns.RR{&dns.HINFO{
				Hdr: hdr(name, dns.TypeHINFO, n.Zone.soa.Hdr.Ttl), Cpu: "RFC8482", Os: "",
			}}}
		}
		if rrs, ok := n.rrsets[qtype]; ok {
			return Result{Zone: n.Zone, Answer: rrs, Extra: n.extra[qtype]}
		}
		return n.Zone.Negative(dns.RcodeSuccess)
	}
	if z, ok := s.ents[name]; ok {
		return z.Negative(dns.RcodeSuccess) // RFC 8020
	}
	if z := s.zoneOf(name); z != nil {
		return z.Negative(dns.RcodeNameError)
	}
	return Result{Rcode: dns.RcodeRefused}
}

// Negative returns the zone's NODATA (rcode dns.RcodeSuccess) or NXDOMAIN (rcode
// dns.RcodeNameError) answer: the SOA in the authority section (RFC 2308 §3).
func (z *Zone) Negative(rcode int) Result {
	return Result{Rcode: rcode, Zone: z, Ns: []dns.RR{z.negSOA}}
}

// Text returns the zone in master-file format (RFC 1035 §5), absolute names, SOA
// first: what an admin can copy into another server.
func (z *Zone) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "; zone %s, generated by mailconf\n", z.Apex)
	for _, line := range z.lines(z.soa.Serial) {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// lines returns the zone's records as text, in the order of Records; serial
// overrides the SOA serial.
func (z *Zone) lines(serial uint32) []string {
	var out []string
	for _, rr := range z.Records() {
		if soa, ok := rr.(*dns.SOA); ok {
			c := *soa
			c.Serial = serial
			rr = &c
		}
		out = append(out, rr.String())
	}
	return out
}

// Records returns every record of the zone: the apex first (SOA, then NS), then the
// other owners in canonical order (RFC 4034 §6.1). The records are shared: callers
// must not modify them.
func (z *Zone) Records() []dns.RR {
	owners := slices.Clone(z.owners)
	slices.SortFunc(owners, func(x, y *Node) int {
		if x.Name == z.Apex || y.Name == z.Apex {
			return boolCompare(y.Name == z.Apex, x.Name == z.Apex)
		}
		return compareNames(x.Name, y.Name)
	})
	var out []dns.RR
	for _, n := range owners {
		for _, t := range orderTypes(n.Types()) {
			out = append(out, n.rrsets[t]...)
		}
	}
	return out
}

// SOA returns the zone's SOA record (shared; do not modify).
func (z *Zone) SOA() *dns.SOA { return z.soa }

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
