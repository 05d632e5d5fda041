// Package connlimit caps the connections a listener holds, in total and per client
// address, and sheds the longest-idle connection first when a cap is reached, as nginx
// and NSD bound theirs, so that one client cannot take every connection.
package connlimit

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Limits are the caps of one listener. Zero means no cap.
type Limits struct {
	// Total is the most connections the listener holds at once.
	Total int
	// PerClient is the most connections one client holds at once. A client is an IPv4
	// address or an IPv6 /64, which one host usually holds whole.
	PerClient int
	// Exempt reports whether a client address is free of PerClient (a trusted reverse
	// proxy carries many clients). Nil exempts no one.
	Exempt func(netip.Addr) bool
}

// Stats are a listener's counts since it started.
type Stats struct {
	Open            int64  // connections held now
	RefusedTotal    uint64 // closed at once: the total cap was reached and none was idle
	RefusedClient   uint64 // closed at once: the client's cap was reached and none of its own was idle
	Shed            uint64 // idle connections closed to make room
	AcceptErrors    uint64 // errors from the operating system's accept
	LastAcceptError error  // the most recent of them
}

// Listener is a net.Listener that applies Limits. Connections report when they are idle
// through MarkIdle (an http.Server's ConnState does it), or, with IdleAfterWrite, by
// themselves: idle from the end of a write until the next read brings data.
type Listener struct {
	net.Listener
	limits atomic.Pointer[Limits]
	// IdleAfterWrite marks a connection idle once it has written an answer, until a read
	// returns data: for protocols whose clients keep a connection open between
	// questions (DNS over TCP, RFC 7766).
	IdleAfterWrite bool
	// OnAcceptError is called for every error of the underlying Accept; nil ignores them.
	OnAcceptError func(error)

	mu      sync.Mutex
	open    int
	clients map[netip.Addr]*client
	idle    idleList // idle connections, longest idle first

	refusedTotal, refusedClient, shed, acceptErrors atomic.Uint64
	lastErr                                         atomic.Pointer[error]
}

// New wraps ln with the limits.
func New(ln net.Listener, limits Limits) *Listener {
	l := &Listener{Listener: ln, clients: map[netip.Addr]*client{}}
	l.SetLimits(limits)
	return l
}

// SetLimits replaces the limits, for a configuration reload. Connections held beyond new,
// lower caps are not closed; new ones wait until the count falls.
func (l *Listener) SetLimits(limits Limits) {
	l.limits.Store(&limits)
}

// Limits returns the limits in force.
func (l *Listener) Limits() Limits { return *l.limits.Load() }

// Stats returns the listener's counts.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	open := l.open
	l.mu.Unlock()
	s := Stats{
		Open:          int64(open),
		RefusedTotal:  l.refusedTotal.Load(),
		RefusedClient: l.refusedClient.Load(),
		Shed:          l.shed.Load(),
		AcceptErrors:  l.acceptErrors.Load(),
	}
	if e := l.lastErr.Load(); e != nil {
		s.LastAcceptError = *e
	}
	return s
}

// Accept returns the next connection within the limits. Connections over a cap are
// closed at once, after the longest-idle connection that could make room has been shed.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.acceptErrors.Add(1)
				l.lastErr.Store(&err)
				if l.OnAcceptError != nil {
					l.OnAcceptError(err)
				}
			}
			return nil, err
		}
		if lc := l.admit(c); lc != nil {
			return lc, nil
		}
	}
}

// clientOf returns the client a remote address counts for: the address, or its /64.
func clientOf(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		}
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip
}

// admit decides on a new connection: it returns it wrapped, or closes it and returns nil.
func (l *Listener) admit(c net.Conn) *Conn {
	lim := l.limits.Load()
	addr := clientOf(c.RemoteAddr())
	var shed []*Conn
	l.mu.Lock()
	cl := l.clients[addr]
	if cl == nil {
		cl = &client{addr: addr, idle: idleList{which: 1}}
		l.clients[addr] = cl
	}
	if lim.PerClient > 0 && cl.open >= lim.PerClient && (lim.Exempt == nil || !lim.Exempt(addr)) {
		victim := cl.idle.head
		if victim == nil {
			l.mu.Unlock()
			l.refusedClient.Add(1)
			c.Close()
			return nil
		}
		shed = append(shed, l.evict(victim))
	}
	if lim.Total > 0 && l.open >= lim.Total {
		victim := l.idle.head
		if victim == nil {
			if cl.open == 0 {
				delete(l.clients, addr)
			}
			l.mu.Unlock()
			l.refusedTotal.Add(1)
			c.Close()
			closeAll(shed)
			return nil
		}
		shed = append(shed, l.evict(victim))
	}
	lc := &Conn{Conn: c, l: l, client: cl, idleAfterWrite: l.IdleAfterWrite}
	// Shedding the client's own last connection took it out of the map; it is back
	// with this one.
	l.clients[addr] = cl
	l.open++
	cl.open++
	// A new connection counts as idle until it sends something, youngest of all: it is
	// shed last, and a client that connects and says nothing cannot hold its place.
	l.setIdle(lc, true)
	l.mu.Unlock()
	closeAll(shed)
	return lc
}

// client is what the listener knows of one client address.
type client struct {
	addr netip.Addr
	open int
	idle idleList // the client's idle connections, longest idle first
}

// idleList is a list of idle connections, oldest first, linked through the connections
// themselves: a connection goes idle and active again with every request, and linking
// it costs no allocation. which picks the links used: the listener's list or the
// client's.
type idleList struct {
	head, tail *Conn
	len        int
	which      int // 0: Conn.links[0], the listener's list; 1: Conn.links[1], the client's
}

// links are a connection's neighbours in one idleList.
type links struct {
	prev, next *Conn
	in         bool
}

func (l *idleList) pushBack(c *Conn) {
	k := &c.links[l.which]
	k.prev, k.next, k.in = l.tail, nil, true
	if l.tail != nil {
		l.tail.links[l.which].next = c
	} else {
		l.head = c
	}
	l.tail = c
	l.len++
}

func (l *idleList) remove(c *Conn) {
	k := &c.links[l.which]
	if !k.in {
		return
	}
	if k.prev != nil {
		k.prev.links[l.which].next = k.next
	} else {
		l.head = k.next
	}
	if k.next != nil {
		k.next.links[l.which].prev = k.prev
	} else {
		l.tail = k.prev
	}
	*k = links{}
	l.len--
}

// setIdle moves c onto or off the idle lists; l.mu is held.
func (l *Listener) setIdle(c *Conn, idle bool) {
	if idle == c.links[0].in {
		return
	}
	if idle {
		l.idle.pushBack(c)
		c.client.idle.pushBack(c)
		return
	}
	l.idle.remove(c)
	c.client.idle.remove(c)
}

// evict takes an idle connection out of the counts, to be closed outside the lock.
func (l *Listener) evict(c *Conn) *Conn {
	l.release(c)
	l.shed.Add(1)
	return c
}

func closeAll(cs []*Conn) {
	for _, c := range cs {
		c.Conn.Close()
	}
}

// release takes c out of the counts, once; l.mu is held.
func (l *Listener) release(c *Conn) {
	if c.released {
		return
	}
	c.released = true
	l.setIdle(c, false)
	l.open--
	c.client.open--
	if c.client.open == 0 && l.clients[c.client.addr] == c.client {
		delete(l.clients, c.client.addr)
	}
}

// MarkIdle records whether c (or the connection it wraps, such as a *tls.Conn) is
// waiting for its client. It suits http.Server.ConnState:
//
//	srv.ConnState = func(c net.Conn, s http.ConnState) { l.MarkIdle(c, s == http.StateIdle) }
func (l *Listener) MarkIdle(c net.Conn, idle bool) {
	lc := unwrap(c)
	if lc == nil || lc.l != l {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !lc.released {
		l.setIdle(lc, idle)
	}
}

// ConnState is an http.Server ConnState hook that tells the listener which connections
// are idle: new (no request yet) and idle (kept alive between requests) ones are.
func (l *Listener) ConnState(c net.Conn, s http.ConnState) {
	switch s {
	case http.StateActive:
		l.MarkIdle(c, false)
	case http.StateIdle:
		l.MarkIdle(c, true)
	}
}

func unwrap(c net.Conn) *Conn {
	for range 4 {
		switch x := c.(type) {
		case *Conn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// Conn is a connection counted by a Listener.
type Conn struct {
	net.Conn
	l              *Listener
	client         *client
	idleAfterWrite bool

	// Guarded by l.mu.
	released bool
	links    [2]links // in l.idle and client.idle while idle
}

// Close closes the connection and frees its place.
func (c *Conn) Close() error {
	c.l.mu.Lock()
	c.l.release(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// Read reads from the connection; with IdleAfterWrite, data makes it active.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.idleAfterWrite {
		c.l.MarkIdle(c, false)
	}
	return n, err
}

// Write writes to the connection; with IdleAfterWrite, it is idle afterwards.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.idleAfterWrite {
		c.l.MarkIdle(c, true)
	}
	return n, err
}
