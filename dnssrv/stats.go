package dnssrv

import (
	"sync/atomic"

	"github.com/miekg/dns"
)

// countedTypes are the query types counted by name; every other type is counted as
// "other", so the metric's label values stay a small fixed set whatever clients send.
var countedTypes = [...]uint16{
	dns.TypeA, dns.TypeNS, dns.TypeCNAME, dns.TypeSOA, dns.TypePTR, dns.TypeMX, dns.TypeTXT,
	dns.TypeAAAA, dns.TypeSRV, dns.TypeDS, dns.TypeDNSKEY, dns.TypeSVCB, dns.TypeHTTPS,
	dns.TypeCAA, dns.TypeAXFR, dns.TypeIXFR, dns.TypeANY,
}

// Indexes of the type dimension: countedTypes, then "other", then "none" for replies
// without a question.
const (
	typeOther = len(countedTypes)
	typeNone  = typeOther + 1
	numTypes  = typeNone + 1
	numRcodes = 24 // RFC 6891 extended codes reach BADVERS (16); 17..23 spare
)

var typeIndex = func() map[uint16]int {
	m := make(map[uint16]int, len(countedTypes))
	for i, t := range countedTypes {
		m[t] = i
	}
	return m
}()

// Stats counts the answers sent, by query type, response code and transport, and the
// server's events: zone transfers, NOTIFY messages sent, answers over the rate limit.
// Counting is a few loads and one atomic add, cheap enough for the UDP fast path; the
// counts are read when metrics are scraped.
type Stats struct {
	n      [numTypes][numRcodes][2]atomic.Uint64
	events [numEvents]atomic.Uint64
}

// event is something the server counts beside its answers.
type event int

// The events, each with its kind and result label (eventLabels).
const (
	xfrOK         event = iota // a transfer answered (the zone, or its SOA when the client is current)
	xfrRefused                 // a transfer refused: not allowed, not a zone, or AXFR over UDP
	xfrNotAuth                 // a transfer request signed with an unknown or wrong key
	notifyOK                   // a NOTIFY acknowledged
	notifyRefused              // a NOTIFY answered REFUSED
	notifyNotAuth              // a NOTIFY answered NOTAUTH
	notifyError                // a NOTIFY answered with another error, or an answer that does not verify
	notifyTimeout              // a NOTIFY not answered in time (it is sent again)
	rrlLimited                 // an answer over a client network's budget
	rrlSlipped                 // of those, sent truncated
	rrlDropped                 // of those, not sent
	numEvents
)

var eventLabels = [numEvents][2]string{
	xfrOK: {"transfer", "ok"}, xfrRefused: {"transfer", "refused"}, xfrNotAuth: {"transfer", "notauth"},
	notifyOK: {"notify", "ok"}, notifyRefused: {"notify", "refused"}, notifyNotAuth: {"notify", "notauth"},
	notifyError: {"notify", "error"}, notifyTimeout: {"notify", "timeout"},
	rrlLimited: {"rate_limit", "limited"}, rrlSlipped: {"rate_limit", "slipped"}, rrlDropped: {"rate_limit", "dropped"},
}

func (s *Stats) add(e event) { s.events[e].Add(1) }

// Events calls f for every event count, zero ones too: the kind ("transfer", "notify",
// "rate_limit"), the result and the count.
func (s *Stats) Events(f func(kind, result string, n uint64)) {
	for e := range numEvents {
		f(eventLabels[e][0], eventLabels[e][1], s.events[e].Load())
	}
}

// count records one reply from its wire form.
func (s *Stats) count(resp []byte, tcp bool) {
	if len(resp) < 12 {
		return
	}
	rcode := int(resp[3] & 0x0f)
	// The extended code of an OPT without options, the last record (BADVERS).
	if n := len(resp); rcode == 0 && be16(resp[10:12]) > 0 && n >= 12+11 &&
		resp[n-11] == 0 && be16(resp[n-10:n-8]) == dns.TypeOPT && be16(resp[n-2:]) == 0 {
		rcode = int(resp[n-6])<<4 | rcode
	}
	if rcode >= numRcodes {
		rcode = numRcodes - 1
	}
	t := typeNone
	if be16(resp[4:6]) > 0 {
		t = typeOther
		off := 12
		for off < len(resp) && resp[off] != 0 && resp[off]&0xc0 == 0 {
			off += int(resp[off]) + 1
		}
		if off+3 <= len(resp) && resp[off] == 0 {
			if i, ok := typeIndex[be16(resp[off+1:off+3])]; ok {
				t = i
			}
		}
	}
	tr := 0
	if tcp {
		tr = 1
	}
	s.n[t][rcode][tr].Add(1)
}

// Each calls f for every non-zero count with its labels: the query type mnemonic
// ("other" and "none" for the rest), the response code mnemonic and "udp" or "tcp".
func (s *Stats) Each(f func(qtype, rcode, transport string, n uint64)) {
	for t := range numTypes {
		for r := range numRcodes {
			for tr, trName := range [2]string{"udp", "tcp"} {
				n := s.n[t][r][tr].Load()
				if n == 0 {
					continue
				}
				f(typeName(t), rcodeName(r), trName, n)
			}
		}
	}
}

func typeName(i int) string {
	switch i {
	case typeOther:
		return "other"
	case typeNone:
		return "none"
	}
	return dns.TypeToString[countedTypes[i]]
}

func rcodeName(r int) string {
	if r == dns.RcodeBadVers {
		return "BADVERS" // 16 is also TSIG's BADSIG; an answer can only mean BADVERS here
	}
	if s, ok := dns.RcodeToString[r]; ok {
		return s
	}
	return "other"
}
