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

// Stats counts the answers sent, by query type, response code and transport. Counting
// is a few loads and one atomic add, cheap enough for the UDP fast path; the counts
// are read when metrics are scraped.
type Stats struct {
	n [numTypes][numRcodes][2]atomic.Uint64
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
