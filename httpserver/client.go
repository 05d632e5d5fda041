package httpserver

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// clientIPFunc returns how to find a request's client address. The direct peer is the
// client unless it is a trusted proxy; then the rightmost X-Forwarded-For entry that is
// not itself a trusted proxy is (entries further left are the client's own claims).
func clientIPFunc(trusted []netip.Prefix) func(r *http.Request) netip.Addr {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) netip.Addr {
		peer := remoteAddr(r)
		if len(trusted) == 0 || !isTrusted(peer) {
			return peer
		}
		xff := r.Header.Values("X-Forwarded-For")
		for i := len(xff) - 1; i >= 0; i-- {
			parts := strings.Split(xff[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return peer // a malformed chain: do not guess
				}
				a = a.Unmap()
				if !isTrusted(a) {
					return a
				}
			}
		}
		return peer
	}
}

// trustedPeerFunc returns whether a request's direct peer is a trusted proxy.
func trustedPeerFunc(trusted []netip.Prefix) func(r *http.Request) bool {
	return func(r *http.Request) bool {
		if len(trusted) == 0 {
			return false
		}
		peer := remoteAddr(r)
		for _, p := range trusted {
			if p.Contains(peer) {
				return true
			}
		}
		return false
	}
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// rateLimiter is a token bucket per client address. Buckets idle long enough to be full
// again are dropped, so memory is bounded by the clients of the last few seconds.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	mu    sync.Mutex
	bkts  map[netip.Addr]*bucket
	swept time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	return &rateLimiter{rate: rate, burst: float64(burst), bkts: map[netip.Addr]*bucket{}}
}

// allow takes a token for addr at time now, reporting whether one was there. IPv6
// clients are limited per /64, since one host usually holds the whole /64.
func (l *rateLimiter) allow(addr netip.Addr, now time.Time) bool {
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		addr = p.Addr()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > 10*time.Second {
		full := time.Duration(l.burst / l.rate * float64(time.Second))
		for a, b := range l.bkts {
			if now.Sub(b.last) > full {
				delete(l.bkts, a)
			}
		}
		l.swept = now
	}
	b, ok := l.bkts[addr]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.bkts[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// requestIDs makes request IDs unique across restarts and instances: a random prefix
// chosen at start and a counter. IDs are handed out from blocks of idBlockSize that share
// one string and one header array, so a request costs no allocation for its ID.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
	blocks sync.Pool // *idBlock
}

// idBlockSize is how many IDs a block holds.
const idBlockSize = 64

// idBlock is a run of consecutive IDs, taken by one goroutine at a time from the pool.
type idBlock struct {
	headers [idBlockSize]string // the IDs, slices of one string, to be sliced as header values
	next    int
}

func newRequestIDs() *requestIDs {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &requestIDs{prefix: hex.EncodeToString(b[:]) + "-"}
}

// next returns a new ID, and the same as a one-element header value.
func (r *requestIDs) next() (id string, header []string) {
	b, _ := r.blocks.Get().(*idBlock)
	if b == nil || b.next == idBlockSize {
		b = r.newBlock()
	}
	i := b.next
	b.next++
	id, header = b.headers[i], b.headers[i:i+1:i+1]
	r.blocks.Put(b)
	return id, header
}

func (r *requestIDs) newBlock() *idBlock {
	first := r.n.Add(idBlockSize) - idBlockSize + 1
	var ends [idBlockSize]int
	var text []byte
	for i := range idBlockSize {
		text = append(text, r.prefix...)
		text = strconv.AppendUint(text, first+uint64(i), 36)
		ends[i] = len(text)
	}
	all := string(text)
	b := &idBlock{}
	start := 0
	for i, end := range ends {
		b.headers[i] = all[start:end]
		start = end
	}
	return b
}
