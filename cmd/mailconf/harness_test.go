package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer collects the server's log while the test reads it.
type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	discard bool // drop what is written from now on (benchmarks)
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.discard {
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// testDaemon is a `mailconf serve` running inside the test process, on loopback
// listeners with ports chosen by the system.
type testDaemon struct {
	addr   map[string]string // proto (http, https, dns, admin) -> host:port
	logs   *lockedBuffer
	cancel context.CancelFunc
	done   chan int
}

// startServe runs `mailconf serve` with every listener on 127.0.0.1:0 unless args set
// it, JSON logs, and waits until every listener reported its address.
func startServe(t testing.TB, args ...string) *testDaemon {
	t.Helper()
	defaults := map[string]string{"-http": "127.0.0.1:0", "-dns": "127.0.0.1:0", "-admin": "127.0.0.1:0"}
	for i := 0; i < len(args); i++ {
		delete(defaults, args[i])
	}
	full := []string{"serve", "-log-format", "json"}
	for flag, v := range defaults {
		full = append(full, flag, v)
	}
	full = append(full, args...)
	want := 0
	for i, a := range full {
		switch a {
		case "-http", "-https", "-dns", "-admin":
			if i+1 < len(full) && full[i+1] != "" {
				want++
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &testDaemon{addr: map[string]string{}, logs: &lockedBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { d.done <- run(ctx, full, &bytes.Buffer{}, d.logs) }()
	deadline := time.Now().Add(20 * time.Second)
	for len(d.addr) < want {
		select {
		case code := <-d.done:
			t.Fatalf("serve exited %d:\n%s", code, d.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not report %d listeners:\n%s", want, d.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
		for _, line := range strings.Split(d.logs.String(), "\n") {
			var rec struct {
				Msg, Proto, Addr string
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				d.addr[rec.Proto] = rec.Addr
			}
		}
	}
	t.Cleanup(func() {
		d.cancel()
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
		}
	})
	return d
}

// stop ends the server as SIGTERM does and returns its whole log; it fails the test
// unless the server exits 0.
func (d *testDaemon) stop(t *testing.T) string {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.done:
		if code != 0 {
			t.Fatalf("serve exited %d:\n%s", code, d.logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("serve did not stop:\n%s", d.logs.String())
	}
	d.done <- 0 // for the cleanup
	return d.logs.String()
}
