//go:build linux

package dnssrv

import (
	"context"
	"net"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// TestEveryCore: on Linux the server binds one UDP socket and one TCP listener per
// processor, and queries from many client sockets (spread by the kernel's hash) are
// all answered, over both transports.
func TestEveryCore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	s := startServer(t, defaultCatalog(t), "127.0.0.1:0", false)
	if len(s.udp) != 4 {
		t.Fatalf("%d UDP sockets for 4 processors", len(s.udp))
	}
	q := query{name: "_imaps._tcp.qq.com.", qtype: dns.TypeSRV}
	for i := range 64 {
		network := "udp"
		if i%4 == 0 {
			network = "tcp"
		}
		r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(q.msg(dns.Id()), s.Addr())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("query %d over %s: %v %v", i, network, r, err)
		}
	}
	if got := s.stats.n[typeIndex[dns.TypeSRV]][0][0].Load(); got != 48 {
		t.Errorf("%d UDP answers counted, want 48", got)
	}
}

// TestPortTaken: a port another socket holds, even one with SO_REUSEPORT, is refused
// instead of shared.
func TestPortTaken(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	s, err := New(defaultCatalog(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:" + port); err == nil {
		s.Shutdown(context.Background())
		t.Fatal("Start joined a port another socket holds")
	}
	// And a running server's port is not taken twice.
	first := startServer(t, defaultCatalog(t), "127.0.0.1:0", false)
	second, _ := New(defaultCatalog(t), nil)
	if err := second.Start(first.Addr()); err == nil {
		second.Shutdown(context.Background())
		t.Fatal("a second server started on the first one's port")
	}
}
