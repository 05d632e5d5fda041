package dnssrv

import (
	"bytes"
	"fmt"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf/dnssrv/zone"
	"github.com/mailconf/mailconf/internal/parallel"
)

// The fast path answers the common UDP queries from responses packed when the
// catalog loads. It parses only the header, the question and an optional OPT,
// copies a prepared response, and patches the ID, the RD and CD bits, the query
// name's letter case and the DO bit. Everything it does not recognise goes to the
// general path, and every response it sends is byte for byte what the general path
// would send (TestFastPathMatchesGeneralPath, FuzzServe).

// Header bits (RFC 1035 §4.1.1).
const (
	bitQR    = 0x80 // in byte 2
	maskOpc  = 0x78 // opcode, in byte 2
	bitTC    = 0x02 // in byte 2
	bitRD    = 0x01 // in byte 2
	bitCD    = 0x10 // in byte 3
	bitDOHi  = 0x80 // DO in the high byte of the OPT flags (RFC 3225 §3)
	typeOPT  = 41
	maxName  = 255 // RFC 1035 §3.1, wire form
	keyExtra = 4   // qtype and qclass after the name in a lookup key
)

// prepared is a packed response built by the general path for a reference query:
// ID 0, RD and CD clear, DO clear.
type prepared struct {
	msg   []byte
	qlen  int      // wire length of the reference query name
	fixed int      // compression pointers below this offset (into the query name left of the apex) stay
	head  int      // pointers from fixed to head (the apex's own labels) move with the apex; the rest with the name's length
	ptrs  []uint16 // offsets of compression pointers after the question
	doOff int      // offset of the OPT flags' high byte, 0 without OPT
	soa   int      // offset of an SOA serial, 0 without SOA: the zone's goes there

	// splices are where the reference domain's own labels stand in SRV targets, which
	// are never compressed (RFC 2782): the zone's own labels go there instead, and the
	// record's length changes by as much. Ascending.
	splices []splice
}

// splice is a place for the zone's own domain labels.
type splice struct {
	at    uint16 // offset of the reference's label
	rdlen uint16 // offset of the RDLENGTH of the record that holds it
}

// variants holds a response without EDNS ([0]) and with ([1]).
type variants [2]prepared

// shapeTable is the prepared answers of one zone shape (zone.Shape): for every owner
// name of its reference zone, relative to the apex, and type, and the negative
// answers. Every zone of the shape is answered from it, with its own apex, domain
// and serial.
type shapeTable struct {
	exact    map[string]*variants // lowercase wire name relative to the apex (labels, no root) + qtype + qclass → response
	names    map[string]nameInfo  // relative wire name → what it is
	hazards  bool                 // some names are hazards: check the suffixes of others
	nodata   variants
	nxdomain variants

	// A zone's own domain labels are those of its apex after prefix bytes ("_tcp")
	// and before the last shared bytes (the suffix the shape shares, root included);
	// the reference's take unique bytes.
	prefix, shared, unique int
}

// nameInfo says what a relative name is to the fast path.
type nameInfo struct {
	// hazard marks a name below the apex that appears in a negative answer's SOA
	// (MNAME, RNAME), in a zone whose shape is its own: a query for it, or below it,
	// compresses differently than the negative answer assumes, so it goes to the
	// general path.
	hazard bool
	exists bool // an owner or an empty non-terminal (RFC 8020): NODATA
}

// fastZone is a served zone to the fast path. Its shape's table is prepared when the
// configuration loads for the first parallel.Eager shapes, else on first use: ten
// thousand providers have twenty thousand shapes, most of which are seldom asked.
type fastZone struct {
	shape  *parallel.Lazy[*shapeTable]
	serial uint32
}

// fastTable is the fast path's immutable lookup table.
type fastTable struct {
	zones   map[string]fastZone  // lowercase wire apex → its shape and serial
	chaos   map[string]*variants // wire name + qtype + qclass → CHAOS answer
	refused variants             // class IN names outside every zone
}

// buildFastTable prepares, through the general path itself, the answers of every
// zone shape, the CHAOS strings and the REFUSED answer, and maps every apex to its
// shape.
func buildFastTable(a *answers) (*fastTable, error) {
	t := &fastTable{zones: make(map[string]fastZone, a.zones.Len()), chaos: map[string]*variants{}}
	for _, ch := range []struct {
		names []string
		value string
	}{{[]string{"version.bind.", "version.server."}, a.version}, {[]string{"id.server.", "hostname.bind."}, a.serverID}} {
		if ch.value == "" {
			continue
		}
		for _, name := range ch.names {
			var v variants
			for i := range v {
				p, err := prepare(a, name, dns.TypeTXT, dns.ClassCHAOS, i == 1, 0, 0, nil)
				if err != nil {
					return nil, err
				}
				v[i] = p
			}
			key, err := lookupKey(name, dns.TypeTXT, dns.ClassCHAOS)
			if err != nil {
				return nil, err
			}
			t.chaos[string(key)] = &v
		}
	}
	for i := range t.refused {
		var err error
		if t.refused[i], err = prepare(a, ".", dns.TypeSOA, dns.ClassINET, i == 1, 0, 0, func(m *dns.Msg) { fill(m, zone.Result{Rcode: dns.RcodeRefused}) }); err != nil {
			return nil, err
		}
	}
	shapes := map[*zone.Shape]*parallel.Lazy[*shapeTable]{}
	var buf [maxName]byte
	for _, z := range a.zones.Zones() {
		sh := shapes[z.Shape()]
		if sh == nil {
			shape := z.Shape()
			sh = parallel.NewLazy(func() (*shapeTable, error) { return prepareShape(a, shape) })
			if len(shapes) < parallel.Eager {
				if _, err := sh.Get(); err != nil {
					return nil, err
				}
			}
			shapes[shape] = sh
		}
		n, err := dns.PackDomainName(z.Apex, buf[:], 0, nil, false)
		if err != nil {
			return nil, fmt.Errorf("dnssrv: zone %q: %w", z.Apex, err)
		}
		t.zones[string(buf[:n])] = fastZone{shape: sh, serial: z.Serial()}
	}
	return t, nil
}

// prepareShape prepares the answers of a shape from its reference zone.
func prepareShape(a *answers, shape *zone.Shape) (*shapeTable, error) {
	ref := shape.Reference()
	sh := &shapeTable{exact: map[string]*variants{}, names: map[string]nameInfo{}}
	// Wire and text forms of LDH names are equally long but for the root.
	var domain []byte // the reference domain in wire form, where splices are found
	head := 0
	if !shape.Own {
		sh.prefix = len(ref.Apex) - len(ref.Domain())
		sh.unique = len(ref.Domain()) - len(shape.Shared)
		sh.shared = len(shape.Shared) + 1
		if shape.Shared == "" {
			sh.shared = 1
		}
		head = sh.prefix + sh.unique
		key, err := lookupKey(ref.Domain(), 0, 0)
		if err != nil {
			return nil, err
		}
		domain = key[:len(key)-keyExtra]
	}
	prepare := func(name string, qtype uint16, edns bool, rel int, override func(*dns.Msg)) (prepared, error) {
		p, err := prepare(a, name, qtype, dns.ClassINET, edns, rel, head, override)
		if err != nil || domain == nil {
			return p, err
		}
		p.splices, err = splices(p.msg, 12+p.qlen+4, domain)
		return p, err
	}
	apexLen := len(ref.Apex) + 1 // wire form: a length byte per label and the root (apexes are plain LDH names)
	relOf := func(name string) (string, int, error) {
		key, err := lookupKey(name, 0, 0)
		if err != nil {
			return "", 0, err
		}
		rel := key[:len(key)-keyExtra-apexLen]
		return string(rel), len(rel), nil
	}
	for _, o := range ref.Owners() {
		rel, relLen, err := relOf(o.Name)
		if err != nil {
			return nil, err
		}
		for _, qt := range append(o.Types, dns.TypeANY) {
			var v variants
			for i := range v {
				name := o.Name
				if v[i], err = prepare(name, qt, i == 1, relLen, func(m *dns.Msg) { fill(m, ref.Lookup(name, qt)) }); err != nil {
					return nil, err
				}
			}
			sh.exact[rel+string([]byte{byte(qt >> 8), byte(qt), 0, byte(dns.ClassINET)})] = &v
		}
		sh.names[rel] = nameInfo{exists: true}
	}
	for _, name := range shapeENTs(ref) {
		rel, _, err := relOf(name)
		if err != nil {
			return nil, err
		}
		sh.names[rel] = nameInfo{exists: true}
	}
	for i := range sh.nodata {
		var err error
		if sh.nodata[i], err = prepare(ref.Apex, dns.TypeSOA, i == 1, 0, func(m *dns.Msg) { fill(m, ref.Negative(dns.RcodeSuccess)) }); err != nil {
			return nil, err
		}
		if sh.nxdomain[i], err = prepare(ref.Apex, dns.TypeSOA, i == 1, 0, func(m *dns.Msg) { fill(m, ref.Negative(dns.RcodeNameError)) }); err != nil {
			return nil, err
		}
	}
	if !shape.Own {
		return sh, nil // its apex shares no name with the SOA
	}
	soa := ref.NegativeSOA()
	for _, n := range []string{soa.Ns, soa.Mbox} {
		n = lowerASCII(n)
		for off, end := 0, false; !end; off, end = dns.NextLabel(n, off) {
			if dns.IsSubDomain(ref.Apex, n[off:]) && len(n[off:]) > len(ref.Apex) {
				rel, _, err := relOf(n[off:])
				if err != nil {
					return nil, err
				}
				ni := sh.names[rel]
				ni.hazard = true
				sh.names[rel] = ni
				sh.hazards = true
			}
		}
	}
	return sh, nil
}

// splices finds, in the records that start at off, the SRV targets at or below the
// reference domain (wire form), and returns where its own label starts in each.
func splices(msg []byte, off int, domain []byte) ([]splice, error) {
	var out []splice
	count := int(be16(msg[6:])) + int(be16(msg[8:])) + int(be16(msg[10:]))
	for range count {
		n, err := skipName(msg, off)
		if err != nil {
			return nil, err
		}
		off = n
		rrtype, rdlen := be16(msg[off:]), int(be16(msg[off+8:]))
		if rrtype == dns.TypeSRV {
			// priority, weight, port, then the target, uncompressed.
			for at := off + 10 + 6; at < off+10+rdlen && msg[at] != 0; at += 1 + int(msg[at]) {
				if bytes.Equal(msg[at:off+10+rdlen], domain) {
					out = append(out, splice{at: uint16(at), rdlen: uint16(off + 8)})
					break
				}
			}
		}
		off += 10 + rdlen
	}
	return out, nil
}

// skipName returns the offset after the name at off.
func skipName(msg []byte, off int) (int, error) {
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xC0 == 0xC0:
			return off + 2, nil
		case l > 63:
			return 0, fmt.Errorf("dnssrv: bad label at %d", off)
		}
		off += 1 + l
	}
	return 0, fmt.Errorf("dnssrv: name runs past the message")
}

// shapeENTs returns the empty non-terminals of a reference zone.
func shapeENTs(ref *zone.Zone) []string {
	have := map[string]bool{}
	for _, o := range ref.Owners() {
		have[o.Name] = true
	}
	var out []string
	for _, o := range ref.Owners() {
		for off, end := dns.NextLabel(o.Name, 0); !end; off, end = dns.NextLabel(o.Name, off) {
			anc := o.Name[off:]
			if len(anc) <= len(ref.Apex) {
				break
			}
			if !have[anc] {
				have[anc] = true
				out = append(out, anc)
			}
		}
	}
	return out
}

// lookupKey is the wire form of name followed by qtype and qclass.
func lookupKey(name string, qtype, qclass uint16) ([]byte, error) {
	buf := make([]byte, maxName+keyExtra)
	n, err := dns.PackDomainName(lowerASCII(name), buf, 0, nil, false)
	if err != nil {
		return nil, fmt.Errorf("dnssrv: name %q: %w", name, err)
	}
	buf = append(buf[:n], byte(qtype>>8), byte(qtype), byte(qclass>>8), byte(qclass))
	return buf, nil
}

// prepare builds the reference query for name, qtype and qclass and runs it
// through the general path; with override, the lookup's result is replaced (for
// reference zones, which no lookup finds, and the negative answers). rel is the
// wire length of the part of name left of its zone's apex, head that of the apex's
// labels its shape does not share (zone.Shape.Head): when the fast path answers
// another name of the same shape, pointers into rel stay, pointers into head move
// with the apex's start, and the others with the end of the name. The response is
// never truncated: the fast path leaves responses larger than the client's limit to
// the general path.
func prepare(a *answers, name string, qtype, qclass uint16, edns bool, rel, head int, override func(*dns.Msg)) (prepared, error) {
	req := new(dns.Msg)
	req.Question = []dns.Question{{Name: name, Qtype: qtype, Qclass: qclass}}
	if edns {
		req.SetEdns0(ednsUDPSize, false)
	}
	m, _, _ := a.reply(req)
	if override != nil {
		m.Extra = optOnly(m.Extra)
		override(m)
	}
	out, err := pack(m, maxTCPSize, name)
	if err != nil {
		return prepared{}, err
	}
	p := prepared{msg: out, fixed: 12 + rel, head: 12 + rel + head}
	if p.qlen, err = nameLen(out, 12); err != nil {
		return prepared{}, err
	}
	if p.ptrs, p.soa, err = pointers(out, 12+p.qlen+4); err != nil {
		return prepared{}, fmt.Errorf("dnssrv: preparing %s %s: %w", name, dns.TypeToString[qtype], err)
	}
	if edns {
		// The OPT is the last record and carries no options: root name (1), type (2),
		// class (2), extended rcode (1), version (1), flags (2), rdlength (2).
		at := len(out) - 11
		if at < 12 || out[at] != 0 || be16(out[at+1:]) != typeOPT || be16(out[at+9:]) != 0 {
			return prepared{}, fmt.Errorf("dnssrv: preparing %s: OPT not last", name)
		}
		p.doOff = at + 7
	}
	return p, nil
}

// nameLen returns the wire length of the uncompressed name at off.
func nameLen(msg []byte, off int) (int, error) {
	start := off
	for off < len(msg) {
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1 - start, nil
		case l > 63:
			return 0, fmt.Errorf("dnssrv: compressed query name")
		}
		off += 1 + l
	}
	return 0, fmt.Errorf("dnssrv: name runs past the message")
}

// pointers returns the offsets of the compression pointers in the records that
// start at off: in owner names, and in the names inside SOA, NS, CNAME, PTR and MX
// data (the only compressed RDATA names, RFC 3597 §4). Other records carry none. It
// also returns the offset of the serial of the one SOA record, 0 without one.
func pointers(msg []byte, off int) ([]uint16, int, error) {
	count := int(be16(msg[6:])) + int(be16(msg[8:])) + int(be16(msg[10:]))
	var ptrs []uint16
	soa := 0
	name := func() error {
		for off < len(msg) {
			l := int(msg[off])
			switch {
			case l == 0:
				off++
				return nil
			case l&0xC0 == 0xC0:
				ptrs = append(ptrs, uint16(off))
				off += 2
				return nil
			case l > 63:
				return fmt.Errorf("bad label at %d", off)
			}
			off += 1 + l
		}
		return fmt.Errorf("name runs past the message")
	}
	for range count {
		if err := name(); err != nil {
			return nil, 0, err
		}
		if off+10 > len(msg) {
			return nil, 0, fmt.Errorf("record runs past the message")
		}
		rrtype := be16(msg[off:])
		rdlen := int(be16(msg[off+8:]))
		off += 10
		end := off + rdlen
		switch rrtype {
		case dns.TypeSOA:
			if err := name(); err != nil {
				return nil, 0, err
			}
			if err := name(); err != nil {
				return nil, 0, err
			}
			if soa != 0 {
				return nil, 0, fmt.Errorf("two SOA records")
			}
			soa = off
		case dns.TypeNS, dns.TypeCNAME, dns.TypePTR:
			if err := name(); err != nil {
				return nil, 0, err
			}
		case dns.TypeMX:
			off += 2
			if err := name(); err != nil {
				return nil, 0, err
			}
		}
		off = end
	}
	if off != len(msg) {
		return nil, 0, fmt.Errorf("%d bytes left over", len(msg)-off)
	}
	return ptrs, soa, nil
}

// answer writes the response to the query q into out and returns its length, or 0
// when the general path must answer. Over UDP (tcp false) a response larger than the
// client accepts is left to the general path, which truncates it. It allocates
// nothing.
func (t *fastTable) answer(q, out []byte, tcp bool) int {
	// Header: a QUERY (opcode 0, QR clear) with one question, no answer or
	// authority records, and at most an OPT in the additional section.
	if len(q) < 12+1+4 || q[2]&(bitQR|maskOpc) != 0 ||
		q[4] != 0 || q[5] != 1 || q[6]|q[7]|q[8]|q[9]|q[10] != 0 || q[11] > 1 {
		return 0
	}
	var key [maxName + keyExtra]byte
	off := 12
	for {
		l := int(q[off])
		if l == 0 {
			break
		}
		if l > 63 || off+1+l >= len(q) || off-12+1+l >= maxName {
			return 0 // compressed, extended label type, too long, or truncated
		}
		k := key[off-12 : off-12+1+l]
		k[0] = byte(l)
		for i, c := range q[off+1 : off+1+l] {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k[1+i] = c
		}
		off += 1 + l
	}
	key[off-12] = 0
	off++
	nlen := off - 12
	if off+4 > len(q) {
		return 0
	}
	copy(key[nlen:nlen+keyExtra], q[off:off+4])
	off += 4

	edns, do, limit := 0, false, minUDPSize
	if q[11] == 1 {
		// OPT (RFC 6891 §6.1.2): root owner, type 41, version 0, options well
		// formed and each one the fast path may pass over (passOverOption), nothing
		// after it.
		if off+11 > len(q) || q[off] != 0 || be16(q[off+1:]) != typeOPT || q[off+5] != 0 || q[off+6] != 0 {
			return 0
		}
		size := int(be16(q[off+3:]))
		do = q[off+7]&bitDOHi != 0
		opts := q[off+11:]
		if len(opts) != int(be16(q[off+9:])) {
			return 0
		}
		for len(opts) > 0 {
			if len(opts) < 4 {
				return 0
			}
			code, l := be16(opts), int(be16(opts[2:]))
			if len(opts) < 4+l || !passOverOption(code) {
				return 0
			}
			opts = opts[4+l:]
		}
		edns, limit = 1, max(minUDPSize, min(size, ednsUDPSize))
	} else if off != len(q) {
		return 0
	}

	h := t.lookup(key[:nlen], key[:nlen+keyExtra], edns)
	p := h.p
	if p == nil {
		return 0
	}
	// The response grows by delta with the query name and by grow with each splice.
	delta := nlen - p.qlen
	grow := len(h.domain) - h.unique
	total := len(p.msg) + delta + grow*len(p.splices)
	if !tcp && total > limit || total > len(out) {
		return 0 // the general path truncates
	}
	copy(out[:12], p.msg[:12])
	out[0], out[1] = q[0], q[1]
	out[2] |= q[2] & bitRD
	out[3] |= q[3] & bitCD
	copy(out[12:12+nlen+4], q[12:12+nlen+4])
	from, to := 12+p.qlen+4, 12+nlen+4
	for _, sp := range p.splices {
		to += copy(out[to:], p.msg[from:sp.at])
		to += copy(out[to:], h.domain)
		from = int(sp.at) + h.unique
	}
	copy(out[to:total], p.msg[from:])
	// moved returns where an offset of the reference response is in this one.
	moved := func(at int) int {
		at += delta
		for _, sp := range p.splices {
			if int(sp.at) < at-delta {
				at += grow
			}
		}
		return at
	}
	for _, sp := range p.splices {
		i := moved(int(sp.rdlen))
		v := be16(out[i:]) + uint16(grow)
		out[i], out[i+1] = byte(v>>8), byte(v)
	}
	for _, at := range p.ptrs {
		i := moved(int(at))
		v := int(be16(out[i:]) & 0x3FFF)
		switch {
		case v < p.fixed:
		case v < p.head:
			v += 12 + h.rel - p.fixed // the apex starts after this name's own labels
		default:
			v = moved(v)
		}
		out[i], out[i+1] = byte(0xC0|v>>8), byte(v)
	}
	if p.soa > 0 {
		i := moved(p.soa)
		out[i], out[i+1], out[i+2], out[i+3] = byte(h.serial>>24), byte(h.serial>>16), byte(h.serial>>8), byte(h.serial)
	}
	if do && p.doOff > 0 {
		out[moved(p.doOff)] |= bitDOHi
	}
	return total
}

// hit is what the fast path found for a query name: the prepared response, and for
// a name in a zone the zone's serial, the length of the name's labels left of the
// apex, and the zone's own domain labels (lowercase) with the length of the
// reference's they replace.
type hit struct {
	p      *prepared
	serial uint32
	rel    int
	domain []byte
	unique int
}

// passOverOption reports whether the fast path may answer a query carrying an EDNS
// option with this code without reading it. Not NSID, which the general path answers
// (RFC 5001), nor the options whose content miekg/dns checks when it unpacks a query
// (dns.makeDataOpt): there the general path answers FORMERR to a malformed option, and
// the fast path must give the same answer or none.
func passOverOption(code uint16) bool {
	switch code {
	case dns.EDNS0NSID, dns.EDNS0LLQ, dns.EDNS0UL, dns.EDNS0SUBNET, dns.EDNS0EXPIRE,
		dns.EDNS0TCPKEEPALIVE, dns.EDNS0EDE, dns.EDNS0REPORTING, dns.EDNS0ZONEVERSION:
		return false
	}
	return true
}

// lookup returns the prepared response for a lowercase wire name; nil when the
// general path must answer. key is the name followed by the query type and class.
func (t *fastTable) lookup(name, key []byte, edns int) hit {
	qclass := be16(key[len(key)-2:])
	if qclass == dns.ClassCHAOS {
		if v := t.chaos[string(key)]; v != nil {
			return hit{p: &v[edns]}
		}
		return hit{}
	}
	if qclass != dns.ClassINET || isTransfer(be16(key[len(key)-4:])) {
		return hit{}
	}
	// The zone: the longest apex the name is at or below.
	off := 0
	var z fastZone
	for {
		var ok bool
		if z, ok = t.zones[string(name[off:])]; ok {
			break
		}
		l := int(name[off])
		if l == 0 {
			return hit{p: &t.refused[edns]}
		}
		off += 1 + l
	}
	sh, _ := z.shape.Get()
	if sh == nil {
		return hit{} // cannot happen: the general path answers
	}
	h := hit{serial: z.serial, rel: off, unique: sh.unique}
	if sh.unique > 0 {
		h.domain = name[off+sh.prefix : len(name)-sh.shared]
	}
	var rk [maxName + keyExtra]byte
	copy(rk[:], name[:off])
	copy(rk[off:], key[len(key)-keyExtra:])
	if v := sh.exact[string(rk[:off+keyExtra])]; v != nil {
		h.p = &v[edns]
		return h
	}
	rel := name[:off]
	if sh.hazards {
		for o := 0; o < len(rel); o += 1 + int(rel[o]) {
			if sh.names[string(rel[o:])].hazard {
				return hit{}
			}
		}
	}
	if sh.names[string(rel)].exists {
		h.p = &sh.nodata[edns]
	} else {
		h.p = &sh.nxdomain[edns]
	}
	return h
}
