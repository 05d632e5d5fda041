// Package dnssrv serves RFC 6186 and RFC 8314 SRV records, authoritatively, for every configured mail domain.
package dnssrv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

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
// UDP queries are read in batches by a loop of its own that answers most of them
// from prepared responses; the rest, and all of TCP, go through a miekg/dns
// handler.
type Server struct {
	log     *slog.Logger
	answers atomic.Pointer[answers]
	closing atomic.Bool
	noFast  bool // tests: answer every UDP query through the general path
	stats   Stats
	xnetIO  bool // tests: x/net batch I/O even where raw batch I/O exists

	mu      sync.Mutex // serialises Start, Update and Shutdown
	started bool
	addr    string
	udp     *udpListener
	tcp     *dns.Server
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
	a, err := build(cat, func(*zone.Set) uint32 { return unixSerial(time.Now()) })
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, tcpConn: connlimit.New(nil, tcpLimits(cat))}
	s.answers.Store(a)
	return s, nil
}

// tcpLimits are the TCP connection caps a catalog asks for.
func tcpLimits(cat *mailconf.Catalog) connlimit.Limits {
	return connlimit.Limits{Total: cat.DNS.TCPMaxConnections, PerClient: cat.DNS.TCPMaxConnectionsPerClient}
}

// build turns a catalog into answers, the serial chosen by serial once the zones
// exist.
func build(cat *mailconf.Catalog, serial func(*zone.Set) uint32) (*answers, error) {
	zones, err := zone.Build(cat)
	if err != nil {
		return nil, fmt.Errorf("dnssrv: %w", err)
	}
	zones.SetSerial(serial(zones))
	a, err := newAnswers(cat, zones)
	if err != nil {
		return nil, err // already says dnssrv
	}
	return a, nil
}

// Update rebuilds the zones from cat and swaps them in atomically; queries in
// flight finish with the old ones. On error the old zones stay.
//
// The SOA serial changes only when the records change, and then becomes
// max(previous+1, current Unix time) in RFC 1982 serial arithmetic. New starts at
// the current Unix time, so a restart never goes back as long as changes are
// less frequent than one a second on average (and the clock does not go back):
// the serial cannot run ahead of the clock otherwise.
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
// time.
func (s *Server) Prepare(cat *mailconf.Catalog) (commit func(), err error) {
	old := s.answers.Load()
	a, err := build(cat, func(z *zone.Set) uint32 {
		if z.Digest() == old.zones.Digest() {
			return old.zones.Serial()
		}
		return nextSerial(old.zones.Serial(), time.Now())
	})
	if err != nil {
		return nil, err
	}
	limits := tcpLimits(cat)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.answers.Store(a)
		s.tcpConn.SetLimits(limits)
		if a.zones.Serial() != old.zones.Serial() {
			s.log.Info("dns: zones updated", slog.Uint64("serial", uint64(a.zones.Serial())), slog.Int("zones", len(a.zones.Zones())))
		}
	}, nil
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
// starts serving, and returns once both are ready.
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
	uc, ln, err := listenBoth(host, port)
	if err != nil {
		return err
	}
	s.udp = newUDPListener(uc)
	s.udp.xnet = s.xnetIO
	s.addr = uc.LocalAddr().String()

	started := make(chan struct{})
	// RFC 7766 §6.2.2: a server may close idle connections to keep resources for new
	// ones; a client that asked and is waiting for its next question is idle.
	s.tcpConn.Listener = ln
	s.tcpConn.IdleAfterWrite = true
	s.tcp = &dns.Server{
		Listener:          s.tcpConn,
		Net:               "tcp",
		Handler:           dns.HandlerFunc(s.serveTCP),
		MsgAcceptFunc:     acceptMsg,
		MaxTCPQueries:     -1, // RFC 7766 §6.2.1: as many queries per connection as the client likes
		ReadTimeout:       tcpReadTimeout,
		WriteTimeout:      tcpWriteTimeout,
		IdleTimeout:       func() time.Duration { return tcpIdleTimeout },
		NotifyStartedFunc: func() { close(started) },
	}
	s.tcpDone = make(chan struct{})
	tcpErr := make(chan error, 1)
	go func() {
		defer close(s.tcpDone)
		if err := s.tcp.ActivateAndServe(); err != nil && !s.closing.Load() {
			tcpErr <- err
		}
	}()
	select {
	case <-started:
	case err := <-tcpErr:
		uc.Close()
		ln.Close()
		return fmt.Errorf("dnssrv: tcp: %w", err)
	}
	// One reader per processor; they share the socket.
	for range max(1, runtime.GOMAXPROCS(0)) {
		s.udpDone.Add(1)
		go s.serveUDP(s.udp)
	}
	s.started = true
	s.log.Debug("dns: serving", slog.String("addr", s.addr), slog.Bool("pktinfo", s.udp.pktinfo))
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

// Serial returns the SOA serial of the zones being served.
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

// Shutdown stops both transports. TCP queries being answered finish, within ctx;
// the UDP loop stops at once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return nil
	}
	s.started = false
	s.closing.Store(true)
	var errs []error
	if err := s.udp.conn.Close(); err != nil {
		errs = append(errs, fmt.Errorf("dnssrv: udp: %w", err))
	}
	if err := s.tcp.ShutdownContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("dnssrv: tcp: %w", err))
	}
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

// serveTCP is the dns.Handler for TCP; dns.Server has applied acceptMsg.
func (s *Server) serveTCP(w dns.ResponseWriter, req *dns.Msg) {
	out, err := s.answers.Load().respond(req, false)
	if err != nil {
		s.log.Error("dns: tcp answer", slog.Any("err", err))
		return
	}
	s.stats.count(out, true)
	if _, err := w.Write(out); err != nil {
		s.log.Debug("dns: tcp write", slog.Any("err", withoutPeer(err)))
	}
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
