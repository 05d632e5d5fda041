package dnssrv

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/mailconf/mailconf"
)

// Response rate limiting, as NSD and Knot do it (docs/dns.md): a forged query makes
// the server answer the forged source, so without a limit anyone can aim mailconf's
// answers at a third party. Each client network gets a budget of UDP answers per
// second; over it, every slip-th answer goes out truncated, which a real resolver
// takes as a cue to ask again over TCP (not limited: a TCP client cannot forge its
// address), and the others are dropped. NSD and Knot pick the truncated ones at
// random with probability 1/slip; counting makes the share exact.

// rrlTableSize is the number of client networks tracked at once (a power of two). A
// network whose slot another one takes starts over with a fresh budget, as in NSD's
// table.
const rrlTableSize = 1 << 16

// rrlVerdict is what becomes of one answer.
type rrlVerdict uint8

const (
	rrlPass rrlVerdict = iota
	rrlSlip
	rrlDrop
)

// rrlSettings are the limits of one catalog.
type rrlSettings struct {
	rate, slip     uint32
	v4bits, v6bits int
	exempt         []netip.Prefix
}

func newRRLSettings(c mailconf.DNSRateLimit) *rrlSettings {
	return &rrlSettings{
		rate: *c.ResponsesPerSecond, slip: *c.Slip,
		v4bits: c.IPv4PrefixLength, v6bits: c.IPv6PrefixLength, exempt: c.Exempt,
	}
}

// rateLimiter counts the answers sent to each client network in the current second.
// It is safe for concurrent use, takes no lock and allocates nothing per answer.
type rateLimiter struct {
	settings atomic.Pointer[rrlSettings]
	table    []rrlEntry
}

// rrlEntry is one client network's count: key identifies the network, state holds
// the second (high 32 bits) and the answers counted in it (low 32 bits). Two networks
// in one slot, or two workers at once, may blur a count a little; the budget stays
// close enough.
type rrlEntry struct {
	key, state atomic.Uint64
}

func newRateLimiter(s *rrlSettings) *rateLimiter {
	r := &rateLimiter{table: make([]rrlEntry, rrlTableSize)}
	r.settings.Store(s)
	return r
}

// check counts one answer to from in second now and says what to do with it.
func (r *rateLimiter) check(from netip.Addr, now uint32) rrlVerdict {
	s := r.settings.Load()
	if s.rate == 0 || !from.IsValid() {
		return rrlPass
	}
	from = from.Unmap()
	for _, p := range s.exempt {
		if p.Contains(from) {
			return rrlPass
		}
	}
	key := networkKey(from, s.v4bits, s.v6bits)
	e := &r.table[(key*0x9e3779b97f4a7c15)>>(64-16)]
	var n uint32
	if e.key.Load() != key {
		e.key.Store(key)
		e.state.Store(uint64(now)<<32 | 1)
		n = 1
	} else {
		for {
			old := e.state.Load()
			n = uint32(old) + 1
			if uint32(old>>32) != now {
				n = 1
			}
			if e.state.CompareAndSwap(old, uint64(now)<<32|uint64(n)) {
				break
			}
		}
	}
	if n <= s.rate {
		return rrlPass
	}
	if s.slip > 0 && (n-s.rate)%s.slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// networkKey identifies the client network of a: its first bits, and its family.
func networkKey(a netip.Addr, v4bits, v6bits int) uint64 {
	if a.Is4() {
		b := a.As4()
		v := uint64(binary.BigEndian.Uint32(b[:]))
		return 1<<63 | v&^(1<<(32-v4bits)-1)
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	if v6bits <= 64 {
		hi &^= 1<<(64-v6bits) - 1
		lo = 0
	} else {
		lo &^= 1<<(128-v6bits) - 1
	}
	// Longer than /64: the low half folded in, so two networks may share a count.
	return (hi ^ lo*0xff51afd7ed558ccd) &^ (1 << 63)
}

// truncateToQuestion turns the response resp, in place, into the short answer of a
// slipped response: the header with TC set and no records, and the question (as NSD
// sends it). It returns the shortened response.
func truncateToQuestion(resp []byte) []byte {
	if len(resp) < 12 {
		return resp
	}
	end := 12
	if be16(resp[4:]) == 1 {
		if n, err := nameLen(resp, 12); err == nil && 12+n+4 <= len(resp) {
			end = 12 + n + 4
		}
	}
	if end == 12 {
		resp[4], resp[5] = 0, 0
	}
	resp[2] |= bitTC
	clear(resp[6:12])
	return resp[:end]
}
