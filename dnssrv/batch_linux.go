//go:build linux

package dnssrv

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawBatch is batchIO on recvmmsg(2) and sendmmsg(2) made as raw system calls on
// the non-blocking socket, through its syscall.RawConn so the runtime's poller
// still does the waiting.
//
// Why not x/net's ReadBatch and WriteBatch (the portable path, xnetBatch): those
// make each call through syscall.Syscall, whose entry into the runtime wakes the
// sysmon thread whenever every P was idle, which on a server waiting for the next
// datagram is nearly every call: a futex wake-up and a few context switches per
// batch. Non-blocking calls need none of that. And replies go to the source
// address bytes as received, so nothing is allocated per datagram.
type rawBatch struct {
	rc    syscall.RawConn
	in    []unix.Mmsghdr
	inIov []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for IPv4 and IPv6 sources
	oob   []byte                  // udpBatch slots of oobSize, when pktinfo
	bufs  []byte                  // udpBatch slots of udpReadSize
	out   []unix.Mmsghdr
	outIo []unix.Iovec

	// State of the system call in progress, and the callbacks for RawConn.Read
	// and Write, bound once so no closure is allocated per call.
	n, sent, pending int
	errno            syscall.Errno
	lastErr          error
	readF, writeF    func(fd uintptr) bool
}

func newRawBatch(conn *net.UDPConn, pktinfo bool) (batchIO, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("dnssrv: udp: %w", err)
	}
	b := &rawBatch{
		rc:    rc,
		in:    make([]unix.Mmsghdr, udpBatch),
		inIov: make([]unix.Iovec, udpBatch),
		names: make([]unix.RawSockaddrInet6, udpBatch),
		bufs:  make([]byte, udpBatch*udpReadSize),
		out:   make([]unix.Mmsghdr, udpBatch),
		outIo: make([]unix.Iovec, udpBatch),
	}
	if pktinfo {
		b.oob = make([]byte, udpBatch*oobSize)
	}
	b.readF, b.writeF = b.recvmmsg, b.sendmmsg
	for i := range b.in {
		b.inIov[i].Base = &b.bufs[i*udpReadSize]
		b.inIov[i].SetLen(udpReadSize)
		h := &b.in[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Iov = &b.inIov[i]
		h.SetIovlen(1)
		if pktinfo {
			h.Control = &b.oob[i*oobSize]
		}
		b.out[i].Hdr.Iov = &b.outIo[i]
		b.out[i].Hdr.SetIovlen(1)
	}
	return b, nil
}

func (b *rawBatch) read() (int, error) {
	for i := range b.in {
		h := &b.in[i].Hdr
		h.Namelen = unix.SizeofSockaddrInet6
		if h.Control != nil {
			h.SetControllen(oobSize)
		}
		h.Flags = 0
		b.in[i].Len = 0
	}
	b.n, b.errno = 0, 0
	if err := b.rc.Read(b.readF); err != nil {
		return 0, err
	}
	if b.errno != 0 {
		return 0, fmt.Errorf("dnssrv: recvmmsg: %w", b.errno)
	}
	return b.n, nil
}

// recvmmsg is the RawConn.Read callback: false asks the poller to wait.
func (b *rawBatch) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.in[0])), uintptr(len(b.in)), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		b.n, b.errno = int(n), e
		return true
	}
}

func (b *rawBatch) datagram(i int) ([]byte, []byte, bool) {
	m := &b.in[i]
	pkt := b.bufs[i*udpReadSize : i*udpReadSize+int(m.Len)]
	var oob []byte
	if m.Hdr.Control != nil {
		oob = b.oob[i*oobSize : i*oobSize+int(m.Hdr.Controllen)]
	}
	return pkt, oob, m.Hdr.Flags&unix.MSG_TRUNC != 0
}

func (b *rawBatch) source(i int) netip.Addr {
	sa := &b.names[i]
	switch sa.Family {
	case unix.AF_INET:
		return netip.AddrFrom4((*unix.RawSockaddrInet4)(unsafe.Pointer(sa)).Addr)
	case unix.AF_INET6:
		return netip.AddrFrom16(sa.Addr).Unmap()
	}
	return netip.Addr{}
}

func (b *rawBatch) reply(k, i int, resp, oob []byte) {
	h := &b.out[k].Hdr
	h.Name, h.Namelen = b.in[i].Hdr.Name, b.in[i].Hdr.Namelen
	b.outIo[k].Base = unsafe.SliceData(resp)
	b.outIo[k].SetLen(len(resp))
	h.Control = nil
	h.SetControllen(0)
	if len(oob) > 0 {
		h.Control = &oob[0]
		h.SetControllen(len(oob))
	}
}

func (b *rawBatch) flush(k int) error {
	b.sent, b.pending, b.lastErr = 0, k, nil
	err := b.rc.Write(b.writeF)
	for i := range b.out[:k] {
		b.outIo[i].Base, b.out[i].Hdr.Control, b.out[i].Hdr.Name = nil, nil, nil
	}
	if err != nil {
		return err
	}
	return b.lastErr
}

// sendmmsg is the RawConn.Write callback: false asks the poller to wait.
func (b *rawBatch) sendmmsg(fd uintptr) bool {
	for b.sent < b.pending {
		n, _, e := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.out[b.sent])), uintptr(b.pending-b.sent), unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case 0:
			b.sent += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false // wait for room in the send buffer
		default:
			// sendmmsg fails only for the first message (such as a destination with
			// no route): skip it.
			b.lastErr = fmt.Errorf("dnssrv: sendmmsg: %w", e)
			b.sent++
		}
	}
	return true
}
