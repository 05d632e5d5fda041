package dnssrv

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DNS over TCP (RFC 7766): every connection is served by a goroutine of its own, so
// connections spread over every processor; queries on one connection are answered
// in order, each from the fast path when it can and the general path otherwise, and
// answers to pipelined queries leave in one write.

// tcpBufSize is the read and write buffer of one connection. Queries are small;
// answers larger than the buffer are written through.
const tcpBufSize = 4096

// tcpServer serves the connections of one listener.
type tcpServer struct {
	s  *Server
	ln net.Listener

	mu      sync.Mutex
	conns   map[net.Conn]bool // true while a query is being answered
	closing bool
	wg      sync.WaitGroup
}

// serve accepts connections until the listener is closed.
func (t *tcpServer) serve() {
	var backoff time.Duration
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little (as net/http does),
			// so the loop does not spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		t.mu.Lock()
		if t.closing {
			t.mu.Unlock()
			c.Close()
			continue
		}
		t.conns[c] = false
		t.wg.Add(1)
		t.mu.Unlock()
		go t.serveConn(c)
	}
}

// setBusy records whether c is answering a query; Shutdown waits for those.
func (t *tcpServer) setBusy(c net.Conn, busy bool) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns[c] = busy
	return !t.closing
}

func (t *tcpServer) serveConn(c net.Conn) {
	defer t.wg.Done()
	defer func() {
		t.mu.Lock()
		delete(t.conns, c)
		t.mu.Unlock()
		c.Close()
	}()
	var from netip.Addr
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		from = a.AddrPort().Addr().Unmap()
	}
	r := bufio.NewReaderSize(c, tcpBufSize)
	w := bufio.NewWriterSize(c, tcpBufSize)
	var lenBuf [2]byte
	pkt := make([]byte, 512)
	out := make([]byte, tcpBufSize)
	timeout := tcpReadTimeout
	for {
		if r.Buffered() == 0 {
			c.SetReadDeadline(time.Now().Add(timeout))
		}
		if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(lenBuf[:]))
		if n > len(pkt) {
			pkt = make([]byte, n)
		}
		if _, err := io.ReadFull(r, pkt[:n]); err != nil {
			return
		}
		if !t.setBusy(c, true) {
			return
		}
		err := t.answer(c, w, pkt[:n], out, from)
		if err == nil && r.Buffered() == 0 {
			// Nothing more has arrived: send what is written.
			c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
			err = w.Flush()
		}
		if !t.setBusy(c, false) || err != nil {
			if err != nil {
				t.s.log.Debug("dns: tcp write", slog.Any("err", withoutPeer(err)))
			}
			return
		}
		timeout = tcpIdleTimeout
	}
}

// answer answers one query into w. Messages the general path does not answer (a
// response, a message shorter than a header) get nothing, as over UDP.
func (t *tcpServer) answer(c net.Conn, w *bufio.Writer, pkt, out []byte, from netip.Addr) error {
	a := t.s.answers.Load()
	// A message larger than the buffer is written through at once: the deadline
	// holds for every write, a client that does not read cannot hold the goroutine.
	c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	if !t.s.noFast {
		if n := a.fast.answer(pkt, out, true); n > 0 {
			t.s.stats.count(out[:n], true)
			return writeMsg(w, out[:n])
		}
	}
	msgs, err := a.serveRaw(pkt, from, true)
	if err != nil {
		t.s.log.Error("dns: tcp answer", slog.Any("err", err))
		return nil
	}
	for i, m := range msgs {
		if i == 0 {
			t.s.stats.count(m, true) // a transfer counts once
		} else {
			// A long transfer: each message within the write timeout.
			c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
		}
		if err := writeMsg(w, m); err != nil {
			return err
		}
		if i < len(msgs)-1 && w.Buffered() > 0 {
			if err := w.Flush(); err != nil { // send as it goes
				return err
			}
		}
	}
	return nil
}

// writeMsg writes one message with its length (RFC 1035 §4.2.2).
func writeMsg(w *bufio.Writer, m []byte) error {
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(m)))
	w.Write(l[:])
	_, err := w.Write(m)
	return err
}

// shutdown lets queries being answered finish and closes every connection; once done
// is closed, it closes the connections still busy too. The listener is closed by the
// caller.
func (t *tcpServer) shutdown(done <-chan struct{}) {
	t.mu.Lock()
	t.closing = true
	for c, busy := range t.conns {
		if !busy {
			c.SetReadDeadline(time.Now()) // the reader returns and closes
		}
	}
	t.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-done:
		t.mu.Lock()
		for c := range t.conns {
			c.Close()
		}
		t.mu.Unlock()
		<-finished
	}
}

// fanIn is one net.Listener for several (the SO_REUSEPORT group): one goroutine
// accepts on each, so accepting scales with the processors too.
type fanIn struct {
	lns  []net.Listener
	ch   chan accepted
	done chan struct{}
	once sync.Once
}

type accepted struct {
	c   net.Conn
	err error
}

func newFanIn(lns []net.Listener) *fanIn {
	f := &fanIn{lns: lns, ch: make(chan accepted), done: make(chan struct{})}
	for _, ln := range lns {
		go f.accept(ln)
	}
	return f
}

func (f *fanIn) accept(ln net.Listener) {
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
		select {
		case f.ch <- accepted{c, err}:
		case <-f.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			time.Sleep(backoff)
		} else {
			backoff = 0
		}
	}
}

// Accept returns the next connection from any of the listeners.
func (f *fanIn) Accept() (net.Conn, error) {
	select {
	case a := <-f.ch:
		return a.c, a.err
	case <-f.done:
		return nil, net.ErrClosed
	}
}

// Close closes every listener.
func (f *fanIn) Close() error {
	var errs []error
	f.once.Do(func() {
		close(f.done)
		for _, ln := range f.lns {
			errs = append(errs, ln.Close())
		}
	})
	return errors.Join(errs...)
}

// Addr is the address they share.
func (f *fanIn) Addr() net.Addr { return f.lns[0].Addr() }
