// Package dnssrv serves RFC 6186 and RFC 8314 SRV records, authoritatively, for every configured mail domain.
package dnssrv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/dnssrv/zone"
	"github.com/mailconf/mailconf/internal/connlimit"
)

// TCP knobs (RFC 7766).
const (
	tcpReadTimeout  = 2 * time.Second  // for the first query on a connection
	tcpIdleTimeout  = 10 * time.Second // between queries (RFC 7766 §6.2.3: seconds)
	tcpWriteTimeout = 2 * time.Second
)

// Errors returned by Start.
var (
	ErrStarted = errors.New("dnssrv: server already started")
	ErrNoPort  = errors.New("dnssrv: no port free for both UDP and TCP")
)

// Server is an authoritative DNS server for the zones of one catalog at a time.
// UDP queries are read in batches, one socket and one loop per processor, and most
// are answered from prepared responses; the rest go through the general path. TCP
// connections are served by a goroutine each (tcp.go). Secondaries may transfer the
// zones and are notified of changes (xfr.go, notify.go); UDP answers are rate
// limited per client network (rrl.go).
type Server struct {
	log     *slog.Logger
	answers atomic.Pointer[answers]
	closing atomic.Bool
	noFast  bool // tests: answer every query through the general path
	stats   Stats
	xnetIO  bool // tests: x/net batch I/O even where raw batch I/O exists
	rrl     *rateLimiter
	rrlNow  func() uint32 // tests: the second rate limiting counts in; nil: the Unix time
	notify  *notifier

	mu      sync.Mutex // serialises Start, Prepare's commit and Shutdown
	started bool
	addr    string
	udp     []*udpListener
	tcp     *tcpServer
	tcpConn *connlimit.Listener // caps TCP connections, in total and per client
	udpDone sync.WaitGroup
	tcpDone chan struct{}
}

// New builds the zones of cat and the packed fast-path answers. The SOA serial is
// the current Unix time (see Update). A nil log discards messages.
func New(cat *mailconf.Catalog, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log, tcpConn: connlimit.New(nil, tcpLimits(cat)), rrl: newRateLimiter(newRRLSettings(cat.DNS.RateLimit))}
	s.notify = &notifier{log: log, stats: &s.stats, firstWait: notifyFirstWait}
	now := time.Now()
	a, err := build(cat, &s.stats, func(z *zone.Set) { z.SetSerials(nil, func(uint32) uint32 { return unixSerial(now) }) })
	if err != nil {
		return nil, err
	}
	s.answers.Store(a)
	return s, nil
}

// tcpLimits are the TCP connection caps a catalog asks for.
func tcpLimits(cat *mailconf.Catalog) connlimit.Limits {
	return connlimit.Limits{Total: cat.DNS.TCPMaxConnections, PerClient: cat.DNS.TCPMaxConnectionsPerClient}
}

// build turns a catalog into answers, the serials set by serials once the zones
// exist.
func build(cat *mailconf.Catalog, stats *Stats, serials func(*zone.Set)) (*answers, error) {
	zones, err := zone.Build(cat)
	if err != nil {
		return nil, fmt.Errorf("dnssrv: %w", err)
	}
	serials(zones)
	a, err := newAnswers(cat, zones, stats)
	if err != nil {
		return nil, err // already says dnssrv
	}
	return a, nil
}

// Update rebuilds the zones from cat and swaps them in atomically; queries in
// flight finish with the old ones. On error the old zones stay.
//
// Each zone's SOA serial changes only when its records change, and then becomes
// max(previous+1, current Unix time) in RFC 1982 serial arithmetic. New starts every
// zone at the current Unix time, so a restart never goes back as long as changes are
// less frequent than one a second on average (and the clock does not go back): the
// serial cannot run ahead of the clock otherwise.
func (s *Server) Update(cat *mailconf.Catalog) error {
	commit, err := s.Prepare(cat)
	if err != nil {
		return err
	}
	commit()
	return nil
}

// Prepare builds the zones and answers of cat and returns the function that switches to
// them, so a server can prepare every protocol before switching any. The serial is
// chosen against the zones served when Prepare runs; prepare and commit one catalog at a
// time. When the serial or the NOTIFY targets change, a running server notifies the
// secondaries.
func (s *Server) Prepare(cat *mailconf.Catalog) (commit func(), err error) {
	old := s.answers.Load()
	now := time.Now()
	a, err := build(cat, &s.stats, func(z *zone.Set) {
		z.SetSerials(old.zones, func(prev uint32) uint32 {
			if prev == 0 {
				return unixSerial(now) // a new zone
			}
			return nextSerial(prev, now)
		})
	})
	if err != nil {
		return nil, err
	}
	changed := a.zones.Changed(old.zones)
	limits := tcpLimits(cat)
	rrl := newRRLSettings(cat.DNS.RateLimit)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.answers.Store(a)
		s.tcpConn.SetLimits(limits)
		s.rrl.settings.Store(rrl)
		if len(changed) > 0 {
			s.log.Info("dns: zones updated", slog.Uint64("serial", uint64(a.zones.Serial())), slog.Int("changed", len(changed)), slog.Int("zones", a.zones.Len()))
		}
		switch {
		case !s.started:
		case !sameTargets(a.notify, old.notify):
			s.notify.announce(a, a.zones.Zones())
		case len(changed) > 0:
			s.notify.announce(a, changed)
		}
	}, nil
}

// sameTargets reports whether two NOTIFY target lists are the same.
func sameTargets(a, b []notifyTarget) bool {
	return slices.EqualFunc(a, b, func(x, y notifyTarget) bool {
		return x.addr == y.addr && (x.key == nil) == (y.key == nil) &&
			(x.key == nil || x.key.name == y.key.name && x.key.alg == y.key.alg && bytes.Equal(x.key.secret, y.key.secret))
	})
}

// unixSerial is the SOA serial for a moment: its Unix time, modulo 2^32.
func unixSerial(t time.Time) uint32 { return uint32(t.Unix()) }

// nextSerial returns the serial that follows prev: the time's, if that is greater
// in RFC 1982 §3.2 serial arithmetic, or else prev+1.
func nextSerial(prev uint32, now time.Time) uint32 {
	if t := unixSerial(now); serialGreater(t, prev) {
		return t
	}
	return prev + 1
}

// serialGreater reports whether a > b in RFC 1982 §3.2 serial arithmetic.
func serialGreater(a, b uint32) bool { return a != b && a-b < 1<<31 }

// Start binds UDP and TCP on addr (host:port; port 0 picks one free for both),
// starts serving, notifies the secondaries, and returns once both are ready. On Linux
// every processor gets a UDP socket and a TCP listener of its own (SO_REUSEPORT).
func (s *Server) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dnssrv: listen address %q: %w", addr, err)
	}
	procs := max(1, runtime.GOMAXPROCS(0))
	ucs, lns, err := listenGroup(host, port, procs)
	if err != nil {
		return err
	}
	s.udp = nil
	for _, uc := range ucs {
		l := newUDPListener(uc)
		l.xnet = s.xnetIO
		s.udp = append(s.udp, l)
	}
	s.addr = ucs[0].LocalAddr().String()
	if ip, err := netip.ParseAddr(host); err == nil && !ip.IsUnspecified() {
		s.notify.local = ip.Unmap() // NOTIFY from the address secondaries know
	}

	// RFC 7766 §6.2.2: a server may close idle connections to keep resources for new
	// ones; a client that asked and is waiting for its next question is idle.
	if len(lns) == 1 {
		s.tcpConn.Listener = lns[0]
	} else {
		s.tcpConn.Listener = newFanIn(lns)
	}
	s.tcpConn.IdleAfterWrite = true
	s.tcp = &tcpServer{s: s, ln: s.tcpConn, conns: map[net.Conn]bool{}}
	s.tcpDone = make(chan struct{})
	go func() {
		defer close(s.tcpDone)
		s.tcp.serve()
	}()
	// One reader per processor: each on its own socket, or all on the one socket.
	for i := range procs {
		s.udpDone.Add(1)
		go s.serveUDP(s.udp[i%len(s.udp)])
	}
	s.started = true
	s.log.Debug("dns: serving", slog.String("addr", s.addr), slog.Int("sockets", len(s.udp)), slog.Bool("pktinfo", s.udp[0].pktinfo))
	a := s.answers.Load()
	s.notify.announce(a, a.zones.Zones())
	return nil
}

// listenBoth binds UDP, then TCP on the same port. With port 0 it retries when the
// port the system picked for UDP is taken for TCP.
func listenBoth(host, port string) (*net.UDPConn, net.Listener, error) {
	for range 32 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, nil, fmt.Errorf("dnssrv: udp: %w", err)
		}
		uc := pc.(*net.UDPConn)
		p := uc.LocalAddr().(*net.UDPAddr).Port
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err == nil {
			return uc, ln, nil
		}
		uc.Close()
		if port != "0" {
			return nil, nil, fmt.Errorf("dnssrv: tcp: %w", err)
		}
	}
	return nil, nil, ErrNoPort
}

// Serial returns the latest SOA serial of the zones being served.
func (s *Server) Serial() uint32 { return s.answers.Load().zones.Serial() }

// TCPConnections returns the listener that caps TCP connections, for its counts.
func (s *Server) TCPConnections() *connlimit.Listener { return s.tcpConn }

// Stats returns the counts of answers sent.
func (s *Server) Stats() *Stats { return &s.stats }

// Addr returns the bound address, host:port; "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Shutdown stops both transports and the NOTIFY messages. TCP queries being answered
// finish, within ctx; the UDP loops stop at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	s.started = false
	s.closing.Store(true)
	s.notify.stop()
	var errs []error
	for _, l := range s.udp {
		if err := l.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("dnssrv: udp: %w", err))
		}
	}
	if err := s.tcpConn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("dnssrv: tcp: %w", err))
	}
	s.tcp.shutdown(ctx.Done())
	done := make(chan struct{})
	go func() {
		s.udpDone.Wait()
		<-s.tcpDone
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("dnssrv: shutdown: %w", ctx.Err()))
	}
	return errors.Join(errs...)
}

// withoutPeer drops the addresses a net.OpError carries, so the client's address is
// never logged.
func withoutPeer(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return fmt.Errorf("%s: %w", oe.Op, oe.Err)
	}
	return err
}
