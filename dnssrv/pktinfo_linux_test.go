package dnssrv

import (
	"bytes"
	"net"
	"slices"
	"syscall"
	"testing"
)

// TestReplyOOB checks the control message that sets a reply's source address.
func TestReplyOOB(t *testing.T) {
	// A received IP_PKTINFO: ifindex 7, spec_dst 10.0.0.1, addr (destination) 127.0.0.2.
	in := putCmsg(make([]byte, oobSize), syscall.IPPROTO_IP, syscall.IP_PKTINFO, []byte{7, 0, 0, 0, 10, 0, 0, 1, 127, 0, 0, 2})
	out := replyOOB(in, make([]byte, oobSize))
	want := putCmsg(make([]byte, oobSize), syscall.IPPROTO_IP, syscall.IP_PKTINFO, []byte{0, 0, 0, 0, 127, 0, 0, 2, 0, 0, 0, 0})
	if !bytes.Equal(out, want) {
		t.Errorf("IPv4: got %x, want %x", out, want)
	}
	addr6 := net.ParseIP("2001:db8::53")
	in = putCmsg(make([]byte, oobSize), syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO, append(slices.Clone(addr6), 9, 0, 0, 0))
	out = replyOOB(in, make([]byte, oobSize))
	want = putCmsg(make([]byte, oobSize), syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO, append(slices.Clone(addr6), 0, 0, 0, 0))
	if !bytes.Equal(out, want) {
		t.Errorf("IPv6: got %x, want %x", out, want)
	}
	if out := replyOOB([]byte{1, 2, 3}, make([]byte, oobSize)); out != nil {
		t.Errorf("garbage: %x", out)
	}
}
