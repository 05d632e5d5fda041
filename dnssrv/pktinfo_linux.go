//go:build linux

package dnssrv

import (
	"syscall"
	"unsafe"
)

const (
	pktinfoSupported = true
	msgTrunc         = syscall.MSG_TRUNC // recvmsg(2): the datagram was longer than the buffer
)

// replyOOB turns the control messages received with a datagram into the one that
// makes the reply leave from the address the datagram was sent to: IP_PKTINFO
// with ipi_spec_dst set (ip(7)) or IPV6_PKTINFO with ipi6_addr set (RFC 3542
// §6.1), the interface left to routing. It writes into out and allocates nothing;
// it returns nil when in holds neither.
func replyOOB(in, out []byte) []byte {
	hdrLen := syscall.CmsgLen(0)
	for len(in) >= hdrLen {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&in[0]))
		l := int(h.Len)
		if l < hdrLen || l > len(in) {
			return nil
		}
		data := in[hdrLen:l]
		switch {
		case h.Level == syscall.IPPROTO_IP && h.Type == syscall.IP_PKTINFO && len(data) >= syscall.SizeofInet4Pktinfo:
			// struct in_pktinfo { int ipi_ifindex; struct in_addr ipi_spec_dst, ipi_addr; }
			var pi syscall.Inet4Pktinfo
			copy(pi.Spec_dst[:], data[8:12]) // ipi_addr: the datagram's destination
			return putCmsg(out, syscall.IPPROTO_IP, syscall.IP_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), syscall.SizeofInet4Pktinfo))
		case h.Level == syscall.IPPROTO_IPV6 && h.Type == syscall.IPV6_PKTINFO && len(data) >= syscall.SizeofInet6Pktinfo:
			// struct in6_pktinfo { struct in6_addr ipi6_addr; unsigned int ipi6_ifindex; }
			var pi syscall.Inet6Pktinfo
			copy(pi.Addr[:], data[0:16])
			return putCmsg(out, syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), syscall.SizeofInet6Pktinfo))
		}
		next := syscall.CmsgSpace(l - hdrLen)
		if next > len(in) {
			return nil
		}
		in = in[next:]
	}
	return nil
}

func putCmsg(out []byte, level, typ int32, data []byte) []byte {
	n := syscall.CmsgSpace(len(data))
	if n > len(out) {
		return nil
	}
	clear(out[:n])
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&out[0]))
	h.Level, h.Type = level, typ
	h.SetLen(syscall.CmsgLen(len(data)))
	copy(out[syscall.CmsgLen(0):], data)
	return out[:n]
}
