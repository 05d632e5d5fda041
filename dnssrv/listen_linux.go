//go:build linux

package dnssrv

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenGroup binds n UDP sockets and n TCP listeners to host:port, all with
// SO_REUSEPORT, so the kernel spreads datagrams (by a hash of their addresses and
// ports) and connections over them and every processor serves its own socket (see
// socket(7)). Port 0 picks a port free for both.
//
// A socket with SO_REUSEPORT silently joins any group another process of the same
// user holds on the port. So the port is first bound without it, which fails if
// anyone holds it, then released and bound again as a group; only a process binding
// in between could still slip in.
func listenGroup(host, port string, n int) ([]*net.UDPConn, []net.Listener, error) {
	attempts := 1
	if port == "0" {
		attempts = 32
	}
	var lastErr error
	for range attempts {
		uc, ln, err := listenBoth(host, port)
		if err != nil {
			return nil, nil, err
		}
		p := strconv.Itoa(uc.LocalAddr().(*net.UDPAddr).Port)
		uc.Close()
		ln.Close()
		udp, tcp, err := bindGroup(host, p, n)
		if err == nil {
			return udp, tcp, nil
		}
		lastErr = err
	}
	return nil, nil, lastErr
}

// bindGroup binds the sockets of a group to host:port.
func bindGroup(host, port string, n int) ([]*net.UDPConn, []net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var udp []*net.UDPConn
	var tcp []net.Listener
	fail := func(err error) ([]*net.UDPConn, []net.Listener, error) {
		for _, c := range udp {
			c.Close()
		}
		for _, l := range tcp {
			l.Close()
		}
		return nil, nil, err
	}
	addr := net.JoinHostPort(host, port)
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			return fail(fmt.Errorf("dnssrv: udp: %w", err))
		}
		udp = append(udp, pc.(*net.UDPConn))
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("dnssrv: tcp: %w", err))
		}
		tcp = append(tcp, ln)
	}
	return udp, tcp, nil
}
