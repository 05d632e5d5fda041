package dnssrv

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"

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

// batchIO moves one worker's datagrams in batches. Each worker has its own, with
// its own buffers; several workers may share a socket.
type batchIO interface {
	// read waits for at least one datagram and returns how many it read.
	read() (int, error)
	// datagram returns the i-th datagram of the last read, its control messages,
	// and whether it was longer than the read buffer.
	datagram(i int) (pkt, oob []byte, truncated bool)
	// reply queues resp, with the control message oob (may be nil), as the k-th
	// reply; it goes to the sender of datagram i. resp and oob must stay valid
	// until flush.
	reply(k, i int, resp, oob []byte)
	// flush sends the first k queued replies. A reply the kernel refuses is
	// skipped, so it cannot hold up the rest; the last such error is returned.
	flush(k int) error
	// source returns the sender's address of the i-th datagram of the last read,
	// without allocating.
	source(i int) netip.Addr
}

// udpListener is a bound UDP socket prepared for the loop.
type udpListener struct {
	conn    *net.UDPConn
	ipv4    bool // an AF_INET socket; otherwise AF_INET6 (perhaps dual-stack)
	pktinfo bool // reply from the address each query was sent to
	xnet    bool // use x/net ReadBatch/WriteBatch even where raw batch I/O exists
}

// newUDPListener wraps conn. When it is bound to a wildcard address, it asks for
// each datagram's destination address, so replies leave from the address the
// client sent to even on a host with several addresses (clients drop answers from
// elsewhere).
func newUDPListener(conn *net.UDPConn) *udpListener {
	l := &udpListener{conn: conn}
	local, _ := conn.LocalAddr().(*net.UDPAddr)
	l.ipv4 = local != nil && local.IP.To4() != nil
	if local == nil || !local.IP.IsUnspecified() || !pktinfoSupported {
		return l
	}
	if l.ipv4 {
		l.pktinfo = ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true) == nil
		return l
	}
	err6 := ipv6.NewPacketConn(conn).SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
	// A dual-stack socket sees IPv4 datagrams too; they carry IP_PKTINFO.
	err4 := ipv4.NewPacketConn(conn).SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	l.pktinfo = err6 == nil || err4 == nil
	return l
}

// newBatchIO returns the raw recvmmsg/sendmmsg implementation where there is one
// (Linux), and the x/net one elsewhere.
func (l *udpListener) newBatchIO() (batchIO, error) {
	if !l.xnet {
		if b, err := newRawBatch(l.conn, l.pktinfo); !errors.Is(err, errors.ErrUnsupported) {
			return b, err
		}
	}
	return newXNetBatch(l), nil
}

// serveUDP reads queries in batches, answers each from the fast path or the
// general path, and writes the answers in batches, until the socket is closed.
func (s *Server) serveUDP(l *udpListener) {
	defer s.udpDone.Done()
	b, err := l.newBatchIO()
	if err != nil {
		s.log.Error("dns: udp", slog.Any("err", err))
		return
	}
	outBuf := make([]byte, udpBatch*ednsUDPSize)
	var outOOB [][]byte
	if l.pktinfo {
		outOOB = make([][]byte, udpBatch)
		for i := range outOOB {
			outOOB[i] = make([]byte, oobSize)
		}
	}
	for {
		n, err := b.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.log.Warn("dns: udp read", slog.Any("err", withoutPeer(err)))
			continue
		}
		a := s.answers.Load()
		now := uint32(time.Now().Unix())
		if s.rrlNow != nil {
			now = s.rrlNow()
		}
		k := 0
		for i := range n {
			pkt, oob, truncated := b.datagram(i)
			if truncated {
				continue // longer than any query we answer
			}
			slot := outBuf[k*ednsUDPSize : (k+1)*ednsUDPSize]
			var resp []byte
			if !s.noFast {
				resp = slot[:a.fast.answer(pkt, slot, false)]
			}
			from := b.source(i)
			if len(resp) == 0 {
				msgs, err := a.serveRaw(pkt, from, false)
				if err != nil {
					s.log.Error("dns: udp answer", slog.Any("err", err))
				}
				if len(msgs) == 0 {
					continue
				}
				resp = msgs[0]
			}
			if v := s.rrl.check(from, now); v != rrlPass {
				s.stats.add(rrlLimited)
				if v == rrlDrop {
					s.stats.add(rrlDropped)
					continue
				}
				s.stats.add(rrlSlipped)
				resp = truncateToQuestion(resp)
			}
			s.stats.count(resp, false)
			var replyOOBuf []byte
			if l.pktinfo {
				replyOOBuf = replyOOB(oob, outOOB[k])
			}
			b.reply(k, i, resp, replyOOBuf)
			k++
		}
		if err := b.flush(k); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("dns: udp write", slog.Any("err", withoutPeer(err)))
		}
	}
}

// xnetBatch is batchIO on golang.org/x/net's ipv4/ipv6 ReadBatch and WriteBatch
// (recvmmsg and sendmmsg on Linux, one datagram per call elsewhere). It allocates
// the source address of every datagram.
type xnetBatch struct {
	conn interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	in, out []ipv4.Message // ipv4.Message and ipv6.Message are the same type
}

func newXNetBatch(l *udpListener) *xnetBatch {
	b := &xnetBatch{in: make([]ipv4.Message, udpBatch), out: make([]ipv4.Message, udpBatch)}
	if l.ipv4 {
		b.conn = ipv4.NewPacketConn(l.conn)
	} else {
		b.conn = ipv6.NewPacketConn(l.conn)
	}
	inBuf := make([]byte, udpBatch*udpReadSize)
	for i := range b.in {
		b.in[i].Buffers = [][]byte{inBuf[i*udpReadSize : (i+1)*udpReadSize]}
		b.out[i].Buffers = [][]byte{nil}
		if l.pktinfo {
			b.in[i].OOB = make([]byte, oobSize)
		}
	}
	return b
}

func (b *xnetBatch) read() (int, error) { return b.conn.ReadBatch(b.in, 0) }

func (b *xnetBatch) datagram(i int) ([]byte, []byte, bool) {
	m := &b.in[i]
	return m.Buffers[0][:m.N], m.OOB[:m.NN], m.Flags&msgTrunc != 0
}

func (b *xnetBatch) source(i int) netip.Addr {
	if ua, ok := b.in[i].Addr.(*net.UDPAddr); ok {
		a, _ := netip.AddrFromSlice(ua.IP)
		return a.Unmap()
	}
	return netip.Addr{}
}

func (b *xnetBatch) reply(k, i int, resp, oob []byte) {
	b.out[k].Buffers[0], b.out[k].OOB, b.out[k].Addr = resp, oob, b.in[i].Addr
}

func (b *xnetBatch) flush(k int) error {
	var lastErr error
	for ms := b.out[:k]; len(ms) > 0; {
		n, err := b.conn.WriteBatch(ms, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			lastErr = err
			n++ // sendmmsg fails only for the first message: skip it
		} else if n == 0 {
			break
		}
		ms = ms[min(n, len(ms)):]
	}
	for i := range b.out[:k] {
		b.out[i].Buffers[0], b.out[i].OOB, b.out[i].Addr = nil, nil, nil
	}
	return lastErr
}
