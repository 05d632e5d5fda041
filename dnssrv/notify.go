package dnssrv

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf/dnssrv/zone"
)

// NOTIFY (RFC 1996): when the zones change, and at start, every configured secondary
// is told of every zone, so it asks for the new version at once instead of at its
// next SOA refresh.

// NOTIFY retransmission (RFC 1996 §3.6: until answered, a bounded number of times, at
// intervals the administrator may tune; 60 s and 5 retransmissions are suggested).
// Shorter first intervals get a change out sooner when a packet is lost; the waits
// double, so a secondary that is down costs a minute of retries.
const (
	notifyFirstWait = 2 * time.Second
	notifyRetries   = 5
	notifyParallel  = 8 // zones in flight to one secondary
)

// notifyTarget is a secondary to notify, with the key that signs the messages (nil:
// unsigned).
type notifyTarget struct {
	addr  netip.AddrPort
	label string // the configuration key (dns.notify[0]), for logs
	key   *tsigKey
}

// notifier sends NOTIFY messages in rounds: a round notifies every target of the
// zones that changed, retrying each until it is answered; a new round ends the one
// before and takes over the zones it had not finished.
type notifier struct {
	log       *slog.Logger
	stats     *Stats
	firstWait time.Duration
	local     netip.Addr // the address to send from; invalid: the system chooses

	mu      sync.Mutex
	cancel  context.CancelFunc
	roundID int
	pending map[string]int // apex → targets that have not finished it, this round
	wg      sync.WaitGroup
}

// announce starts a round for zones, of a, to the targets of a, ending the round in
// progress; the zones that round had not finished are notified again.
func (n *notifier) announce(a *answers, zones []*zone.Zone) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel != nil {
		n.cancel()
		n.cancel = nil
	}
	if len(a.notify) == 0 {
		n.pending = nil
		return
	}
	byApex := make(map[string]*zone.Zone, len(zones)+len(n.pending))
	for _, z := range zones {
		byApex[z.Apex] = z
	}
	for apex, left := range n.pending {
		if z := a.zones.Zone(apex); z != nil && left > 0 {
			byApex[apex] = z
		}
	}
	zones = slices.SortedFunc(maps.Values(byApex), func(x, y *zone.Zone) int { return strings.Compare(x.Apex, y.Apex) })
	n.roundID++
	n.pending = make(map[string]int, len(zones))
	for _, z := range zones {
		n.pending[z.Apex] = len(a.notify)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	id := n.roundID
	for _, t := range a.notify {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.round(ctx, id, t, zones)
		}()
	}
}

// finished records that a target is done with a zone in round id: answered, or out
// of retries.
func (n *notifier) finished(id int, apex string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if id == n.roundID {
		n.pending[apex]--
	}
}

// stop ends the round in progress and waits for its messages to stop.
func (n *notifier) stop() {
	n.mu.Lock()
	if n.cancel != nil {
		n.cancel()
		n.cancel = nil
	}
	n.mu.Unlock()
	n.wg.Wait()
}

// round notifies one target of every zone and logs the outcome once.
func (n *notifier) round(ctx context.Context, id int, t notifyTarget, zones []*zone.Zone) {
	sem := make(chan struct{}, notifyParallel)
	var mu sync.Mutex
	failed, last := 0, event(-1)
	var wg sync.WaitGroup
	for _, z := range zones {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res := n.notifyZone(ctx, t, z)
			if ctx.Err() != nil {
				return // the next round takes the zone over
			}
			n.finished(id, z.Apex)
			if res != notifyOK {
				mu.Lock()
				failed, last = failed+1, res
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	switch {
	case ctx.Err() != nil:
	case failed > 0:
		n.log.Warn("dns: NOTIFY not acknowledged", slog.String("target", t.label),
			slog.Int("zones", failed), slog.String("result", eventLabels[last][1]))
	default:
		n.log.Debug("dns: NOTIFY acknowledged", slog.String("target", t.label), slog.Int("zones", len(zones)))
	}
}

// notifyZone sends the NOTIFY for one zone until it is answered or the retries run
// out, and returns the last result.
func (n *notifier) notifyZone(ctx context.Context, t notifyTarget, z *zone.Zone) event {
	wait := n.firstWait
	for range notifyRetries + 1 {
		res := n.send(ctx, t, z, wait)
		if ctx.Err() != nil {
			return res
		}
		n.stats.add(res)
		if res != notifyTimeout {
			return res
		}
		wait *= 2
	}
	return notifyTimeout
}

// send sends one NOTIFY and waits up to wait for its answer.
func (n *notifier) send(ctx context.Context, t notifyTarget, z *zone.Zone, wait time.Duration) event {
	m := new(dns.Msg)
	m.SetNotify(z.Apex) // RFC 1996 §3.7: opcode NOTIFY, AA, the apex SOA as question
	m.Answer = []dns.RR{z.SOA()}
	out, err := m.Pack()
	if err != nil {
		return notifyError
	}
	var sig *signer
	if t.key != nil {
		sig = newRequestSigner(t.key)
		if out, err = sig.sign(out); err != nil {
			return notifyError
		}
	}
	var laddr *net.UDPAddr
	if n.local.IsValid() && n.local.Is4() == t.addr.Addr().Is4() {
		laddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(n.local, 0))
	}
	conn, err := net.DialUDP("udp", laddr, net.UDPAddrFromAddrPort(t.addr))
	if err != nil {
		return notifyError
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if _, err := conn.Write(out); err != nil {
		return notifyError
	}
	conn.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, dns.MaxMsgSize)
	for {
		k, err := conn.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return notifyTimeout
			}
			if ctx.Err() != nil {
				return notifyTimeout
			}
			// An ICMP port unreachable turns into a read error: nothing listens yet.
			time.Sleep(min(wait, 100*time.Millisecond))
			continue
		}
		resp := buf[:k]
		// RFC 1035 §7.3: the answer has our ID, QR and the NOTIFY opcode.
		if k < 12 || be16(resp) != m.Id || resp[2]&bitQR == 0 || int(resp[2]&maskOpc)>>3 != dns.OpcodeNotify {
			continue
		}
		switch int(resp[3] & 0x0f) {
		case dns.RcodeSuccess:
		case dns.RcodeRefused:
			return notifyRefused
		case dns.RcodeNotAuth:
			return notifyNotAuth
		default:
			return notifyError
		}
		if sig != nil {
			// RFC 8945 §5.3: the answer to a signed request is signed.
			kr := keyring{t.key.name: t.key}
			if dns.TsigVerifyWithProvider(append([]byte(nil), resp...), kr, hex.EncodeToString(sig.prevMAC), false) != nil {
				return notifyError
			}
		}
		return notifyOK
	}
}
