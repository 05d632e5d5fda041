package dnssrv

import (
	"net/netip"

	"github.com/miekg/dns"
)

// xfrChunk is the most record bytes, counted uncompressed, in one transfer message:
// with the header, the question, an OPT and a TSIG it stays under the 65535 bytes a
// TCP message can hold (RFC 1035 §4.2.2). Compression only makes it smaller.
const xfrChunk = 60000

// xfrPolicy says who may transfer the zones (mailconf.TransferConfig): with both
// addresses and keys configured, a client needs both.
type xfrPolicy struct {
	allow []netip.Prefix
	keyed bool // keys are configured: a request must be signed with one
}

// allows reports whether a client at from, whose request was signed with a known key
// or not, may transfer. With nothing configured, no one may.
func (p xfrPolicy) allows(from netip.Addr, signed bool) bool {
	if len(p.allow) == 0 && !p.keyed {
		return false
	}
	if p.keyed && !signed {
		return false
	}
	if len(p.allow) == 0 {
		return true
	}
	from = from.Unmap()
	for _, pr := range p.allow {
		if pr.Contains(from) {
			return true
		}
	}
	return false
}

// transfer answers an AXFR (RFC 5936) or IXFR (RFC 1995) query whose reply, m, is
// REFUSED so far. An allowed client asking for a zone over TCP gets the whole zone,
// SOA first and last (RFC 5936 §2.2), in as many messages as it takes; an IXFR is
// answered the same way (RFC 1995 §4), or with the SOA alone when the client's serial
// is current or the query came over UDP (RFC 1995 §2). The zone is the one of the
// answers snapshot being served when the query arrived, so the transfer is
// consistent however long it takes.
func (a *answers) transfer(req, m *dns.Msg, limit int, from netip.Addr, tcp bool, sig *signer) ([][]byte, error) {
	q := req.Question[0]
	origName := qname(req)
	one := func(m *dns.Msg) ([][]byte, error) {
		out, err := finish(m, limit, origName, sig)
		if err != nil {
			return nil, err
		}
		return [][]byte{out}, nil
	}
	z := a.zones.Zone(lowerASCII(q.Name))
	if z == nil || !a.xfr.allows(from, sig != nil) || q.Qtype == dns.TypeAXFR && !tcp {
		// RFC 5936 §4.2: AXFR is not defined over UDP.
		a.stats.add(xfrRefused)
		return one(m)
	}
	a.stats.add(xfrOK)
	soa := z.SOA()
	m.Rcode = dns.RcodeSuccess
	m.Authoritative = true
	if q.Qtype == dns.TypeIXFR && (!tcp || clientCurrent(req, soa.Serial)) {
		m.Answer = []dns.RR{soa}
		return one(m)
	}
	rrs := append(z.Records(), soa)
	var out [][]byte
	for start := 0; start < len(rrs); {
		end, size := start, 0
		for end < len(rrs) && (end == start || size+dns.Len(rrs[end]) <= a.xfrChunk) {
			size += dns.Len(rrs[end])
			end++
		}
		// RFC 5936 §2.2: every message repeats the question.
		part := *m
		part.Answer = rrs[start:end]
		b, err := finish(&part, maxTCPSize, origName, sig)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		start = end
	}
	return out, nil
}

// clientCurrent reports whether an IXFR query's SOA (RFC 1995 §3: in the authority
// section) has our serial or a later one (RFC 1982 serial arithmetic).
func clientCurrent(req *dns.Msg, ours uint32) bool {
	if len(req.Ns) == 0 {
		return false
	}
	soa, ok := req.Ns[0].(*dns.SOA)
	return ok && !serialGreater(ours, soa.Serial)
}
