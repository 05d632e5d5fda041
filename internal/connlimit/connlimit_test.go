package connlimit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs an HTTP server on l with keep-alive, its ConnState wired to l.
func serve(t *testing.T, l *Listener) {
	t.Helper()
	srv := &http.Server{
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ConnState:   l.ConnState,
		IdleTimeout: time.Minute,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

func listen(t *testing.T, limits Limits) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return New(ln, limits)
}

// client is one keep-alive HTTP connection from a chosen loopback address.
type testClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dial(t *testing.T, l *Listener, from string) *testClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &testClient{conn: c, r: bufio.NewReader(c)}
}

// get sends one request and reports whether an answer came back.
func (c *testClient) get() bool {
	c.conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == 200
}

// closed reports whether the server has closed the connection.
func (c *testClient) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_, err := c.r.ReadByte()
	return err == io.EOF || err != nil && !strings.Contains(err.Error(), "timeout")
}

// waitIdle waits until want connections are idle.
func waitIdle(t *testing.T, l *Listener, want int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for l.idleCount() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections idle, want %d", l.idleCount(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func waitOpen(t *testing.T, l *Listener, want int64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for l.Stats().Open != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", l.Stats().Open, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPerClientShedsItsOwnIdle: a client at its cap gets room by losing its own
// longest-idle connection; another client is not touched.
func TestPerClientShedsItsOwnIdle(t *testing.T) {
	l := listen(t, Limits{Total: 100, PerClient: 3})
	serve(t, l)
	other := dial(t, l, "127.0.0.2")
	if !other.get() {
		t.Fatal("other client")
	}
	waitIdle(t, l, 1)
	var cs []*testClient
	for i := range 3 {
		c := dial(t, l, "127.0.0.1")
		if !c.get() {
			t.Fatal("request failed")
		}
		// net/http marks a connection idle after the answer is out, which may be after
		// the client has read it: wait, so that the idle order is the order here.
		waitIdle(t, l, 2+i)
		cs = append(cs, c)
	}
	waitOpen(t, l, 4)
	c4 := dial(t, l, "127.0.0.1")
	if !c4.get() {
		t.Fatal("a fourth connection from the same client was not served")
	}
	if !cs[0].closed() {
		t.Error("the client's longest-idle connection was not shed")
	}
	if cs[1].closed() || cs[2].closed() {
		t.Error("a younger connection was shed")
	}
	if !other.get() {
		t.Error("the other client's connection suffered")
	}
	if s := l.Stats(); s.Shed != 1 || s.RefusedClient != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestRefusedWhenNoneIdle: with every connection of a client busy, a new one is closed
// at once and counted.
func TestRefusedWhenNoneIdle(t *testing.T) {
	l := listen(t, Limits{Total: 100, PerClient: 2})
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }), ConnState: l.ConnState}
	go srv.Serve(l)
	defer srv.Close()
	defer close(release)
	for range 2 {
		c := dial(t, l, "127.0.0.1")
		io.WriteString(c.conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // the handler holds it
	}
	deadline := time.Now().Add(3 * time.Second)
	for l.idleCount() != 0 || l.Stats().Open != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("connections did not become active: %+v", l.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c := dial(t, l, "127.0.0.1")
	if !c.closed() {
		t.Fatal("a connection over the cap with none idle was kept")
	}
	if s := l.Stats(); s.RefusedClient != 1 {
		t.Errorf("stats %+v", s)
	}
}

// TestTotalShedsLongestIdle: at the total cap, the longest-idle connection of anyone
// makes room.
func TestTotalShedsLongestIdle(t *testing.T) {
	l := listen(t, Limits{Total: 3})
	serve(t, l)
	var cs []*testClient
	for i := range 3 {
		c := dial(t, l, fmt.Sprintf("127.0.0.%d", i+1))
		if !c.get() {
			t.Fatal("request failed")
		}
		cs = append(cs, c)
		waitIdle(t, l, i+1) // the idle order is the order here
	}
	cs[0].get() // now the youngest idle, once the server has marked it
	waitIdle(t, l, 3)
	waitOpen(t, l, 3)
	c := dial(t, l, "127.0.0.9")
	if !c.get() {
		t.Fatal("new client not served at the cap")
	}
	if !cs[1].closed() {
		t.Error("the longest-idle connection was not shed")
	}
	if cs[0].closed() || cs[2].closed() {
		t.Error("a connection that was not the longest idle was shed")
	}
}

// TestExempt: an exempt client (a trusted proxy) is held to the total only.
func TestExempt(t *testing.T) {
	l := listen(t, Limits{Total: 100, PerClient: 1, Exempt: func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.1") }})
	serve(t, l)
	a, b := dial(t, l, "127.0.0.1"), dial(t, l, "127.0.0.1")
	if !a.get() || !b.get() || a.closed() {
		t.Fatal("an exempt client was limited")
	}
}

// TestIPv6Grouping: addresses in one /64 are one client.
func TestIPv6Grouping(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want string
	}{
		{"[2001:db8:1:2:3:4:5:6]:53", "2001:db8:1:2::"},
		{"[2001:db8:1:2:ffff::1]:53", "2001:db8:1:2::"},
		{"[2001:db8:1:3::1]:53", "2001:db8:1:3::"},
		{"192.0.2.7:80", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
	} {
		a, err := net.ResolveTCPAddr("tcp", tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := clientOf(a).String(); got != tc.want {
			t.Errorf("clientOf(%s) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}

// TestIdleAfterWrite: with IdleAfterWrite, a connection that wrote its answer is idle
// and shed first; one that is reading a question is not.
func TestIdleAfterWrite(t *testing.T) {
	l := listen(t, Limits{Total: 2})
	l.IdleAfterWrite = true
	var mu sync.Mutex
	var served []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			served = append(served, c)
			mu.Unlock()
			go func() { // echo lines
				r := bufio.NewReader(c)
				for {
					s, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(s))
				}
			}()
		}
	}()
	defer l.Close()
	a, b := dial(t, l, "127.0.0.1"), dial(t, l, "127.0.0.2")
	for _, c := range []*testClient{a, b} {
		io.WriteString(c.conn, "q\n")
		if s, err := c.r.ReadString('\n'); err != nil || s != "q\n" {
			t.Fatal("no answer")
		}
	}
	io.WriteString(b.conn, "partial") // b is in the middle of a question
	waitIdle(t, l, 1)                 // once the server has read it, only a is idle
	c := dial(t, l, "127.0.0.3")
	io.WriteString(c.conn, "q\n")
	if s, err := c.r.ReadString('\n'); err != nil || s != "q\n" {
		t.Fatal("the new connection was not served")
	}
	if !a.closed() {
		t.Error("the idle connection was not shed")
	}
	if b.closed() {
		t.Error("the connection in the middle of a question was shed")
	}
}

// TestAcceptErrorsCounted: an error from the underlying Accept is counted and reported.
func TestAcceptErrorsCounted(t *testing.T) {
	var got []error
	l := New(failingListener{}, Limits{})
	l.OnAcceptError = func(err error) { got = append(got, err) }
	if _, err := l.Accept(); err == nil {
		t.Fatal("no error")
	}
	if s := l.Stats(); s.AcceptErrors != 1 || s.LastAcceptError == nil || len(got) != 1 {
		t.Errorf("stats %+v, reported %v", s, got)
	}
}

type failingListener struct{ net.Listener }

func (failingListener) Accept() (net.Conn, error) { return nil, errTooManyFiles }

var errTooManyFiles = fmt.Errorf("accept tcp: too many open files")

// idleCount is for the tests: how many connections are idle now.
func (l *Listener) idleCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle.len
}

// TestIdleList: connections leave the list from anywhere and the rest keep their order,
// in both directions.
func TestIdleList(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remove []int
		want   []int
	}{
		{"none", nil, []int{0, 1, 2, 3}},
		{"head", []int{0}, []int{1, 2, 3}},
		{"tail", []int{3}, []int{0, 1, 2}},
		{"middle", []int{1, 2}, []int{0, 3}},
		{"twice", []int{1, 1}, []int{0, 2, 3}},
		{"all", []int{2, 0, 3, 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := make([]*Conn, 4)
			l := idleList{which: 1}
			for i := range cs {
				cs[i] = &Conn{}
				l.pushBack(cs[i])
			}
			for _, i := range tc.remove {
				l.remove(cs[i])
			}
			var fwd, back []int
			for c := l.head; c != nil; c = c.links[1].next {
				fwd = append(fwd, slices.Index(cs, c))
			}
			for c := l.tail; c != nil; c = c.links[1].prev {
				back = append([]int{slices.Index(cs, c)}, back...)
			}
			if !slices.Equal(fwd, tc.want) || !slices.Equal(back, tc.want) || l.len != len(tc.want) {
				t.Errorf("forward %v, backward %v, len %d; want %v", fwd, back, l.len, tc.want)
			}
			for i, c := range cs {
				if c.links[0].in {
					t.Errorf("connection %d is linked in the other list", i)
				}
			}
		})
	}
}

// fakeConn is a connection from 127.0.0.1 that does nothing.
type fakeConn struct{ net.Conn }

func (fakeConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (fakeConn) Close() error         { return nil }

// TestShedOwnLastKeepsClient: a client at a cap of one that sheds its only, idle
// connection for a new one is still counted: with the new one busy, a third is refused,
// and closing the shed one later does not forget the client.
func TestShedOwnLastKeepsClient(t *testing.T) {
	for _, limits := range []Limits{{PerClient: 1}, {Total: 1}} {
		t.Run(fmt.Sprintf("%+v", limits), func(t *testing.T) {
			l := New(nil, limits)
			first := l.admit(fakeConn{})
			second := l.admit(fakeConn{})
			if first == nil || second == nil {
				t.Fatal("a connection was refused while the other was idle")
			}
			l.MarkIdle(second, false)
			if third := l.admit(fakeConn{}); third != nil {
				t.Fatal("a connection over the cap was admitted while the client's only other one was busy")
			}
			first.Close() // shed already: counts nothing
			l.mu.Lock()
			cl := l.clients[netip.MustParseAddr("127.0.0.1")]
			l.mu.Unlock()
			if cl == nil || cl.open != 1 || second.client != cl {
				t.Fatalf("client %+v, want the second connection's, with one open", cl)
			}
			if third := l.admit(fakeConn{}); third != nil {
				t.Fatal("admitted over the cap after the shed connection closed")
			}
		})
	}
}
