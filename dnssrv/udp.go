package dnssrv

import (
	"errors"
	"log/slog"
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// UDP loop sizes.
const (
	// udpReadSize is the largest query read over UDP (the UDP read size knob of
	// dns.Server); longer datagrams are dropped. Queries are small: a 255-byte name
	// with EDNS padding (RFC 8467) stays far below.
	udpReadSize = 4096
	// udpBatch is how many datagrams one recvmmsg/sendmmsg call moves.
	udpBatch = 32
	// oobSize holds one IP_PKTINFO or IPV6_PKTINFO control message, with room.
	oobSize = 64
)

// batchConn is what ipv4.PacketConn and ipv6.PacketConn have in common: batched
// reads and writes (recvmmsg and sendmmsg on Linux; one datagram per call
// elsewhere). Both packages' Message is the same type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpListener is a bound UDP socket prepared for the loop.
type udpListener struct {
	conn    *net.UDPConn
	batch   batchConn
	pktinfo bool // reply from the address each query was sent to
}

// newUDPListener wraps conn. When it is bound to a wildcard address, it asks for
// each datagram's destination address, so replies leave from the address the
// client sent to even on a host with several addresses (RFC 1035 §4.2.1 clients
// drop answers from elsewhere).
func newUDPListener(conn *net.UDPConn) *udpListener {
	l := &udpListener{conn: conn}
	local, _ := conn.LocalAddr().(*net.UDPAddr)
	if local != nil && local.IP.To4() != nil {
		p := ipv4.NewPacketConn(conn)
		l.batch = p
		if local.IP.IsUnspecified() && pktinfoSupported {
			l.pktinfo = p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true) == nil
		}
		return l
	}
	p := ipv6.NewPacketConn(conn)
	l.batch = p
	if local != nil && local.IP.IsUnspecified() && pktinfoSupported {
		err6 := p.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		// A dual-stack socket sees IPv4 datagrams too; they carry IP_PKTINFO.
		err4 := ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		l.pktinfo = err6 == nil || err4 == nil
	}
	return l
}

// udpWorker is one goroutine's buffers: nothing is allocated per datagram on the
// fast path.
type udpWorker struct {
	in, out []ipv4.Message
	outBuf  []byte   // udpBatch slots of ednsUDPSize bytes
	outOOB  [][]byte // per slot, the control message of the reply
}

func newUDPWorker(pktinfo bool) *udpWorker {
	w := &udpWorker{
		in:     make([]ipv4.Message, udpBatch),
		out:    make([]ipv4.Message, udpBatch),
		outBuf: make([]byte, udpBatch*ednsUDPSize),
	}
	inBuf := make([]byte, udpBatch*udpReadSize)
	for i := range w.in {
		w.in[i].Buffers = [][]byte{inBuf[i*udpReadSize : (i+1)*udpReadSize]}
		w.out[i].Buffers = [][]byte{nil}
		if pktinfo {
			w.in[i].OOB = make([]byte, oobSize)
			w.outOOB = append(w.outOOB, make([]byte, oobSize))
		}
	}
	return w
}

// serveUDP reads queries in batches, answers each from the fast path or the
// general path, and writes the answers in batches, until the socket is closed.
func (s *Server) serveUDP(l *udpListener) {
	defer s.udpDone.Done()
	w := newUDPWorker(l.pktinfo)
	for {
		n, err := l.batch.ReadBatch(w.in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.log.Warn("dns: udp read", slog.Any("err", err))
			continue
		}
		a := s.answers.Load()
		k := 0
		for i := range n {
			m := &w.in[i]
			if m.Flags&msgTrunc != 0 {
				continue // longer than any query we answer
			}
			slot := w.outBuf[k*ednsUDPSize : (k+1)*ednsUDPSize]
			var resp []byte
			if !s.noFast {
				resp = slot[:a.fast.answer(m.Buffers[0][:m.N], slot)]
			}
			if len(resp) == 0 {
				resp, err = a.serveRaw(m.Buffers[0][:m.N], true)
				if err != nil {
					s.log.Error("dns: udp answer", slog.Any("err", err))
				}
				if resp == nil {
					continue
				}
			}
			o := &w.out[k]
			o.Buffers[0] = resp
			o.Addr = m.Addr
			if l.pktinfo {
				o.OOB = replyOOB(m.OOB[:m.NN], w.outOOB[k])
			}
			k++
		}
		s.writeBatch(l, w.out[:k])
		for i := range w.out[:k] {
			w.out[i].Buffers[0], w.out[i].Addr, w.out[i].OOB = nil, nil, nil
		}
	}
}

// writeBatch sends every message, skipping one that the kernel refuses (such as a
// destination with no route) so it cannot hold up the rest.
func (s *Server) writeBatch(l *udpListener, ms []ipv4.Message) {
	for len(ms) > 0 {
		n, err := l.batch.WriteBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("dns: udp write", slog.Any("err", err))
			n++
		} else if n == 0 {
			return
		}
		ms = ms[min(n, len(ms)):]
	}
}
