package dnssrv

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/dnssrv/zone"
)

// Message sizes.
const (
	// minUDPSize is the UDP payload every client accepts (RFC 1035 §4.2.1); RFC
	// 6891 §6.2.5 treats smaller EDNS sizes as 512.
	minUDPSize = 512
	// ednsUDPSize is the EDNS buffer size we advertise and the most we send over
	// UDP: 1232 avoids IP fragmentation (DNS Flag Day 2020, RFC 9715).
	ednsUDPSize = 1232
	// maxTCPSize is the largest message over TCP (RFC 1035 §4.2.2 length prefix).
	maxTCPSize = dns.MaxMsgSize
)

// errPack is wrapped by errors from packing a response, which are bugs.
var errPack = errors.New("dnssrv: cannot pack response")

// answers is everything a query is answered from. One catalog builds one answers
// value; Update replaces it atomically.
type answers struct {
	zones    *zone.Set
	fast     *fastTable
	version  string // CHAOS version.bind; "" refuses
	serverID string // CHAOS id.server and EDNS NSID; "" refuses
	keys     keyring
	xfr      xfrPolicy
	notify   []notifyTarget
	stats    *Stats // where transfers are counted
	// xfrChunk is the most record bytes (uncompressed) in one transfer message.
	xfrChunk int
}

func newAnswers(cat *mailconf.Catalog, zones *zone.Set, stats *Stats) (*answers, error) {
	keys, err := newKeyring(cat.DNS.Transfer.Keys)
	if err != nil {
		return nil, err
	}
	a := &answers{
		zones: zones, version: cat.DNS.Version, serverID: cat.DNS.ServerID, keys: keys,
		xfr:   xfrPolicy{allow: cat.DNS.Transfer.Allow, keyed: len(keys) > 0},
		stats: stats, xfrChunk: xfrChunk,
	}
	for i, n := range cat.DNS.Notify {
		t := notifyTarget{addr: n.Addr, label: fmt.Sprintf("dns.notify[%d]", i)}
		if !n.Key.IsZero() {
			t.key = keys[n.Key.FQDN()]
		}
		a.notify = append(a.notify, t)
	}
	fast, err := buildFastTable(a)
	if err != nil {
		return nil, err
	}
	a.fast = fast
	return a, nil
}

// acceptMsg decides, as a dns.Server MsgAcceptFunc would, which messages get an
// answer, on both transports alike. It drops responses and lets reply answer
// everything else: NOTIMP for other opcodes and FORMERR for a wrong question count
// come from reply, with a fresh OPT and the AD bit clear, rather than from
// dns.Server's bare header.
func acceptMsg(dh dns.Header) dns.MsgAcceptAction {
	const qr = 1 << 15
	if dh.Bits&qr != 0 {
		return dns.MsgIgnore // never answer a response: that could start a loop between servers
	}
	return dns.MsgAccept
}

// serveRaw answers one raw message that the fast path did not take, on either
// transport, as dns.Server would (header check, acceptMsg, unpack, handler): from is
// the sender's address. It returns the messages to send: none, one, or for a zone
// transfer over TCP several.
func (a *answers) serveRaw(pkt []byte, from netip.Addr, tcp bool) ([][]byte, error) {
	if len(pkt) < 12 {
		return nil, nil // no header: let the client time out, as dns.Server does
	}
	dh := dns.Header{
		Id: be16(pkt[0:]), Bits: be16(pkt[2:]),
		Qdcount: be16(pkt[4:]), Ancount: be16(pkt[6:]), Nscount: be16(pkt[8:]), Arcount: be16(pkt[10:]),
	}
	if acceptMsg(dh) != dns.MsgAccept {
		return nil, nil
	}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err == nil {
		return a.respond(req, pkt, from, tcp)
	}
	// RFC 1035 §4.1.1: the message could not be parsed, FORMERR. Mirror
	// dns.Server.serveDNS: the request's header turned into a reply, with whatever
	// question was parsed and nothing else.
	req.SetRcodeFormatError(req)
	req.Zero = false
	req.Answer, req.Ns, req.Extra = nil, nil, nil
	if len(req.Question) > 1 {
		// RFC 9619: a query has one question; echoing hundreds of them (miekg/dns reads
		// as many as the bytes hold, whatever the count says) could pass the 512 bytes
		// a UDP client without EDNS takes (RFC 1035 §4.2.1). As for a parsed query with
		// more than one, the reply has none.
		req.Question = nil
	}
	out, err := req.Pack()
	if err != nil {
		return nil, nil // a question we cannot even repeat: stay silent
	}
	return [][]byte{out}, nil
}

// respond builds the packed answers to an accepted, unpacked query, pkt its wire
// form. A request signed with a known key gets signed answers; one signed with an
// unknown key, a wrong MAC or a time outside the fudge gets NOTAUTH (RFC 8945 §5.2).
// Over UDP the answer is truncated to the client's limit.
func (a *answers) respond(req *dns.Msg, pkt []byte, from netip.Addr, tcp bool) ([][]byte, error) {
	var sig *signer
	if t := req.IsTsig(); t != nil {
		key, tsigErr := a.keys.verify(pkt, t)
		if tsigErr != 0 {
			if len(req.Question) == 1 && isTransfer(req.Question[0].Qtype) {
				a.stats.add(xfrNotAuth)
			}
			out, err := a.notAuth(req, t, key, tsigErr, tcp)
			if err != nil {
				return nil, err
			}
			return [][]byte{out}, nil
		}
		var err error
		if sig, err = newSigner(key, t); err != nil {
			return nil, err
		}
	}
	m, limit, xfr := a.reply(req)
	if tcp {
		limit = maxTCPSize
	}
	if xfr {
		return a.transfer(req, m, limit, from, tcp, sig)
	}
	out, err := finish(m, limit, qname(req), sig)
	if err != nil {
		return nil, err
	}
	return [][]byte{out}, nil
}

// finish packs m to fit in limit bytes with the request's letter case (pack), and
// signs it when sig is set, leaving room for the signature.
func finish(m *dns.Msg, limit int, origName string, sig *signer) ([]byte, error) {
	if sig == nil {
		return pack(m, limit, origName)
	}
	out, err := pack(m, limit-sig.overhead(), origName)
	if err != nil {
		return nil, err
	}
	return sig.sign(out)
}

// notAuth is the answer to a request whose TSIG does not verify (RFC 8945 §5.2): NOTAUTH
// with the TSIG error; signed for BADTIME (§5.2.3), unsigned for BADKEY and BADSIG
// (§5.3.2).
func (a *answers) notAuth(req *dns.Msg, t *dns.TSIG, key *tsigKey, tsigErr uint16, tcp bool) ([]byte, error) {
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeNotAuth)
	head, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPack, err)
	}
	var out []byte
	if tsigErr == dns.RcodeBadTime && key != nil {
		sig, serr := newSigner(key, t)
		if serr != nil {
			return nil, serr
		}
		sig.err, sig.timeSigned = tsigErr, t.TimeSigned
		out, err = sig.sign(head)
	} else {
		out, err = appendUnsignedTSIG(head, t, tsigErr, time.Now())
	}
	if err != nil {
		return nil, err
	}
	if !tcp && len(out) > minUDPSize {
		// The TSIG record repeats the request's key name and algorithm, so a request
		// with long names gets an answer longer than the 512 bytes a UDP client
		// without EDNS takes (RFC 1035 §4.2.1). Send the header and question with TC
		// set instead: the client asks again over TCP and gets the whole answer.
		m.Truncated = true
		if out, err = m.Pack(); err != nil {
			return nil, fmt.Errorf("%w: %w", errPack, err)
		}
	}
	return out, nil
}

// qname returns the request's query name as sent (its letter case), or "".
func qname(req *dns.Msg) string {
	if len(req.Question) == 0 {
		return ""
	}
	return req.Question[0].Name
}

// reply builds the response message to req, and returns the UDP size limit the
// request allows, and whether req asks for a zone transfer, which transfer answers
// (the reply is then REFUSED, for when the transfer is not allowed). The question in
// the reply is lowercased; pack restores the request's letter case.
func (a *answers) reply(req *dns.Msg) (m *dns.Msg, limit int, xfr bool) {
	m = new(dns.Msg)
	m.SetReply(req) // copies ID, opcode, RD and CD (RFC 1035 §4.1.1); RA stays 0
	m.Compress = true

	limit = minUDPSize
	var reqOPT *dns.OPT
	nOPT := 0
	for _, rr := range req.Extra {
		if o, ok := rr.(*dns.OPT); ok {
			reqOPT = o
			nOPT++
		}
	}
	if nOPT > 1 || (reqOPT != nil && reqOPT.Hdr.Name != ".") {
		// RFC 6891 §6.1.1: more than one OPT, or an OPT not owned by the root.
		m.Rcode = dns.RcodeFormatError
		return m, limit, false
	}
	var opt *dns.OPT
	if reqOPT != nil {
		// RFC 6891 §6.1.1, §7: a fresh OPT in every reply to an EDNS query; the
		// request's options and unknown flags are never echoed (§6.1.2).
		opt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(ednsUDPSize)
		if reqOPT.Do() {
			opt.SetDo() // RFC 3225 §3: the DO bit is copied into the response
		}
		m.Extra = []dns.RR{opt}
		limit = max(minUDPSize, min(int(reqOPT.UDPSize()), ednsUDPSize))
		if reqOPT.Version() != 0 {
			// RFC 6891 §6.1.3: BADVERS, our OPT at version 0, no answer.
			m.Rcode = dns.RcodeBadVers
			return m, limit, false
		}
		if a.serverID != "" && wantsNSID(reqOPT) {
			// RFC 5001 §2.3: the server identifier, only when asked for.
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hex.EncodeToString([]byte(a.serverID))})
		}
	}
	switch req.Opcode {
	case dns.OpcodeQuery:
	case dns.OpcodeNotify:
		// RFC 1996 §3.7: a NOTIFY tells a secondary to transfer again. This server is
		// only ever the primary, so it takes none, as NSD refuses one it does not allow.
		m.Rcode = dns.RcodeRefused
		return m, limit, false
	default:
		// RFC 8906 §3.1.4: unknown opcodes get NOTIMP. UPDATE (RFC 2136) is not served
		// either.
		m.Rcode = dns.RcodeNotImplemented
		return m, limit, false
	}
	if len(req.Question) != 1 {
		// RFC 9619: a query has exactly one question.
		m.Rcode = dns.RcodeFormatError
		m.Question = nil
		return m, limit, false
	}
	if !querySections(req) {
		m.Rcode = dns.RcodeFormatError
		return m, limit, false
	}
	q := req.Question[0]
	name := lowerASCII(q.Name) // RFC 4343 §3: match without regard to ASCII case
	m.Question[0].Name = name
	switch {
	case q.Qclass == dns.ClassCHAOS:
		a.chaos(m, name, q.Qtype)
	case q.Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
	case isTransfer(q.Qtype):
		m.Rcode = dns.RcodeRefused // unless transfer allows it
		return m, limit, true
	default:
		fill(m, a.zones.Lookup(name, q.Qtype))
	}
	return m, limit, false
}

// querySections reports whether a query's record sections hold only what a query may
// carry, as NSD requires (query.c, query_process): nothing in the answer section,
// nothing in the authority section but an IXFR's SOA (RFC 1995 §3), and in the
// additional section one OPT (RFC 6891 §6.1.1) and one TSIG, last (RFC 8945 §5.1).
func querySections(req *dns.Msg) bool {
	if len(req.Answer) > 0 || len(req.Ns) > 0 && req.Question[0].Qtype != dns.TypeIXFR {
		return false
	}
	for i, rr := range req.Extra {
		switch rr.(type) {
		case *dns.OPT:
		case *dns.TSIG:
			if i != len(req.Extra)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// isTransfer reports whether qtype asks for a zone transfer. The fast path leaves
// these to the general path.
func isTransfer(qtype uint16) bool { return qtype == dns.TypeAXFR || qtype == dns.TypeIXFR }

// fill copies a lookup result into m, keeping m's OPT last.
func fill(m *dns.Msg, r zone.Result) {
	m.Rcode = r.Rcode
	m.Authoritative = r.Zone != nil // RFC 1035 §4.1.1; AA clear on REFUSED
	m.Answer = r.Answer
	m.Ns = r.Ns
	if len(r.Extra) > 0 {
		extra := make([]dns.RR, 0, len(r.Extra)+len(m.Extra))
		extra = append(extra, r.Extra...)
		m.Extra = append(extra, m.Extra...)
	}
}

// chaos answers CHAOS-class TXT queries for the server's version and identity
// (RFC 4892 §2.3) when they are configured, and refuses the rest.
func (a *answers) chaos(m *dns.Msg, name string, qtype uint16) {
	var txt string
	switch name {
	case "version.bind.", "version.server.":
		txt = a.version
	case "id.server.", "hostname.bind.":
		txt = a.serverID
	}
	if txt == "" || qtype != dns.TypeTXT {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	m.Answer = []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassCHAOS},
		Txt: []string{strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(txt)},
	}}
}

func wantsNSID(o *dns.OPT) bool {
	for _, opt := range o.Option {
		if opt.Option() == dns.EDNS0NSID {
			return true
		}
	}
	return false
}

// pack packs m with compression (RFC 1035 §4.1.4) so it fits in limit bytes, then
// writes the query name back in the request's letter case (RFC 4343 §4.1, 0x20).
func pack(m *dns.Msg, limit int, origName string) ([]byte, error) {
	out, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errPack, err)
	}
	if len(out) > limit {
		// RFC 2181 §9: the additional section is optional; drop it before anything
		// else, keeping the OPT.
		if keep := optOnly(m.Extra); len(keep) != len(m.Extra) {
			m.Extra = keep
			if out, err = m.Pack(); err != nil {
				return nil, fmt.Errorf("%w: %w", errPack, err)
			}
		}
	}
	if len(out) > limit {
		// RFC 2181 §9: a required RRset does not fit. Send no partial RRset but TC,
		// so the client retries over TCP (RFC 7766 §5).
		m.Answer, m.Ns = nil, nil
		m.Truncated = true
		if out, err = m.Pack(); err != nil {
			return nil, fmt.Errorf("%w: %w", errPack, err)
		}
	}
	restoreCase(out, origName)
	return out, nil
}

func optOnly(rrs []dns.RR) []dns.RR {
	var keep []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeOPT {
			keep = append(keep, rr)
		}
	}
	return keep
}

// restoreCase overwrites the packed (lowercase) question name at offset 12 with
// origName in its original letter case. Records compressed against the question
// then show that case too, as with NSD; names compare without regard to case.
func restoreCase(out []byte, origName string) {
	if origName == "" || len(out) < 12 || be16(out[4:]) == 0 {
		return
	}
	var buf [256]byte
	n, err := dns.PackDomainName(origName, buf[:], 0, nil, false)
	if err != nil || 12+n > len(out) || !equalFoldASCII(buf[:n], out[12:12+n]) {
		return
	}
	copy(out[12:], buf[:n])
}

// lowerASCII lowercases the ASCII letters of s only (RFC 4343 §3); other bytes of a
// presentation-format name are escaped and left alone.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func equalFoldASCII(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lowerByte(a[i]) != lowerByte(b[i]) {
			return false
		}
	}
	return true
}

func lowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }
