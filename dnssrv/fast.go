package dnssrv

import (
	"fmt"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf/dnssrv/zone"
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
	ptrs  []uint16 // offsets of compression pointers after the question, which move with the name's length
	doOff int      // offset of the OPT flags' high byte, 0 without OPT
}

// variants holds a response without EDNS ([0]) and with ([1]).
type variants [2]prepared

// nameInfo says what a name is to the fast path.
type nameInfo struct {
	// hazard marks a name below an apex that also appears in a negative answer's SOA
	// (MNAME, RNAME): a query for it, or below it, compresses differently than the
	// template assumes, so it goes to the general path.
	hazard   bool
	nodata   *variants // set for names that exist: NODATA of their zone (RFC 8020 for ENTs)
	nxdomain *variants // set for apexes: NXDOMAIN of that zone for names below it
}

// fastTable is the fast path's immutable lookup table.
type fastTable struct {
	exact   map[string]*variants // lowercase wire name + qtype + qclass → response
	names   map[string]nameInfo  // lowercase wire name → what it is
	refused variants             // class IN names outside every zone
}

// buildFastTable prepares, through the general path itself, a response for every
// owner name and type it holds (and ANY), the CHAOS strings, and per zone the
// NODATA and NXDOMAIN templates.
func buildFastTable(a *answers) (*fastTable, error) {
	t := &fastTable{exact: map[string]*variants{}, names: map[string]nameInfo{}}
	add := func(name string, qtype, qclass uint16) error {
		var v variants
		for i := range v {
			p, err := prepare(a, name, qtype, qclass, i == 1, nil)
			if err != nil {
				return err
			}
			v[i] = p
		}
		key, err := lookupKey(name, qtype, qclass)
		if err != nil {
			return err
		}
		t.exact[string(key)] = &v
		return nil
	}
	for _, n := range a.zones.Nodes() {
		for _, qt := range append(n.Types(), dns.TypeANY) {
			if err := add(n.Name, qt, dns.ClassINET); err != nil {
				return nil, err
			}
		}
	}
	for _, ch := range []struct {
		names []string
		value string
	}{{[]string{"version.bind.", "version.server."}, a.version}, {[]string{"id.server.", "hostname.bind."}, a.serverID}} {
		if ch.value == "" {
			continue
		}
		for _, name := range ch.names {
			if err := add(name, dns.TypeTXT, dns.ClassCHAOS); err != nil {
				return nil, err
			}
		}
	}

	templates := map[*zone.Zone][2]*variants{} // zone → NODATA, NXDOMAIN
	for _, z := range a.zones.Zones() {
		var nodata, nxdomain variants
		for i := range nodata {
			var err error
			if nodata[i], err = prepare(a, z.Apex, dns.TypeSOA, dns.ClassINET, i == 1, func(m *dns.Msg) { fill(m, z.Negative(dns.RcodeSuccess)) }); err != nil {
				return nil, err
			}
			if nxdomain[i], err = prepare(a, z.Apex, dns.TypeSOA, dns.ClassINET, i == 1, func(m *dns.Msg) { fill(m, z.Negative(dns.RcodeNameError)) }); err != nil {
				return nil, err
			}
		}
		templates[z] = [2]*variants{&nodata, &nxdomain}
		if err := t.mark(z.Apex, func(ni *nameInfo) { ni.nxdomain = &nxdomain }); err != nil {
			return nil, err
		}
		soa := z.NegativeSOA()
		for _, n := range []string{soa.Ns, soa.Mbox} {
			n = lowerASCII(n)
			for off, end := 0, false; !end; off, end = dns.NextLabel(n, off) {
				if dns.IsSubDomain(z.Apex, n[off:]) && len(n[off:]) > len(z.Apex) {
					if err := t.mark(n[off:], func(ni *nameInfo) { ni.hazard = true }); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	for _, n := range a.zones.Nodes() {
		nodata := templates[n.Zone][0]
		if err := t.mark(n.Name, func(ni *nameInfo) { ni.nodata = nodata }); err != nil {
			return nil, err
		}
	}
	for name, z := range a.zones.EmptyNonTerminals() {
		nodata := templates[z][0]
		if err := t.mark(name, func(ni *nameInfo) { ni.nodata = nodata }); err != nil {
			return nil, err
		}
	}
	for i := range t.refused {
		var err error
		if t.refused[i], err = prepare(a, ".", dns.TypeSOA, dns.ClassINET, i == 1, func(m *dns.Msg) { fill(m, zone.Result{Rcode: dns.RcodeRefused}) }); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *fastTable) mark(name string, f func(*nameInfo)) error {
	key, err := lookupKey(name, 0, 0)
	if err != nil {
		return err
	}
	k := string(key[:len(key)-keyExtra])
	ni := t.names[k]
	f(&ni)
	t.names[k] = ni
	return nil
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
// the negative templates). The response is never truncated: the fast path leaves
// responses larger than the client's limit to the general path.
func prepare(a *answers, name string, qtype, qclass uint16, edns bool, override func(*dns.Msg)) (prepared, error) {
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
	p := prepared{msg: out}
	if p.qlen, err = nameLen(out, 12); err != nil {
		return prepared{}, err
	}
	if p.ptrs, err = pointers(out, 12+p.qlen+4); err != nil {
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
// data (the only compressed RDATA names, RFC 3597 §4). Other records carry none.
func pointers(msg []byte, off int) ([]uint16, error) {
	count := int(be16(msg[6:])) + int(be16(msg[8:])) + int(be16(msg[10:]))
	var ptrs []uint16
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
			return nil, err
		}
		if off+10 > len(msg) {
			return nil, fmt.Errorf("record runs past the message")
		}
		rrtype := be16(msg[off:])
		rdlen := int(be16(msg[off+8:]))
		off += 10
		end := off + rdlen
		switch rrtype {
		case dns.TypeSOA:
			if err := name(); err != nil {
				return nil, err
			}
			if err := name(); err != nil {
				return nil, err
			}
		case dns.TypeNS, dns.TypeCNAME, dns.TypePTR:
			if err := name(); err != nil {
				return nil, err
			}
		case dns.TypeMX:
			off += 2
			if err := name(); err != nil {
				return nil, err
			}
		}
		off = end
	}
	if off != len(msg) {
		return nil, fmt.Errorf("%d bytes left over", len(msg)-off)
	}
	return ptrs, nil
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
	qtype, qclass := be16(q[off:]), be16(q[off+2:])
	off += 4

	edns, do, limit := 0, false, minUDPSize
	if q[11] == 1 {
		// OPT (RFC 6891 §6.1.2): root owner, type 41, version 0, options well
		// formed and none we act on (NSID), nothing after it.
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
			if len(opts) < 4+l || code == dns.EDNS0NSID {
				return 0
			}
			opts = opts[4+l:]
		}
		edns, limit = 1, max(minUDPSize, min(size, ednsUDPSize))
	} else if off != len(q) {
		return 0
	}

	var p *prepared
	if v := t.exact[string(key[:nlen+keyExtra])]; v != nil {
		p = &v[edns]
	} else {
		if qclass != dns.ClassINET || isTransfer(qtype) {
			return 0
		}
		v := t.template(key[:nlen])
		if v == nil {
			return 0
		}
		p = &v[edns]
	}

	delta := nlen - p.qlen
	total := len(p.msg) + delta
	if !tcp && total > limit || total > len(out) {
		return 0 // the general path truncates
	}
	copy(out[:12], p.msg[:12])
	out[0], out[1] = q[0], q[1]
	out[2] |= q[2] & bitRD
	out[3] |= q[3] & bitCD
	copy(out[12:12+nlen+4], q[12:12+nlen+4])
	copy(out[12+nlen+4:total], p.msg[12+p.qlen+4:])
	for _, at := range p.ptrs {
		i := int(at) + delta
		v := be16(out[i:]) + uint16(delta)
		out[i], out[i+1] = byte(v>>8), byte(v)
	}
	if do && p.doOff > 0 {
		out[p.doOff+delta] |= bitDOHi
	}
	return total
}

// template returns the negative response for a lowercase wire name that has no
// prepared answer: NODATA when the name exists, NXDOMAIN below an apex, REFUSED
// outside every zone; nil when the general path must answer.
func (t *fastTable) template(name []byte) *variants {
	for off := 0; ; {
		if ni, ok := t.names[string(name[off:])]; ok {
			switch {
			case ni.hazard:
				return nil
			case off == 0 && ni.nodata != nil:
				return ni.nodata
			case off > 0 && ni.nxdomain != nil:
				return ni.nxdomain
			}
		}
		l := int(name[off])
		if l == 0 {
			return &t.refused
		}
		off += 1 + l
	}
}
