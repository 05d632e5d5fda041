package logbuf

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuf struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBatchesAndFlushes(t *testing.T) {
	out := &syncBuf{}
	w := New(out, 1024, time.Hour)
	for i := 0; i < 10; i++ {
		if _, err := w.Write([]byte("line\n")); err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != "" {
		t.Fatal("written before a flush")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != strings.Repeat("line\n", 10) || out.writes != 1 {
		t.Fatalf("got %q in %d writes", out.String(), out.writes)
	}
	// After Close, writes go straight through.
	w.Write([]byte("late\n"))
	if !strings.HasSuffix(out.String(), "late\n") {
		t.Fatal("write after Close was lost")
	}
}

func TestLinesStayWhole(t *testing.T) {
	out := &syncBuf{}
	w := New(out, 16, time.Hour)
	w.Write([]byte("0123456789\n"))
	w.Write([]byte("abcdefghij\n")) // does not fit behind the first: first is flushed alone
	w.Close()
	if out.String() != "0123456789\nabcdefghij\n" || out.writes != 2 {
		t.Fatalf("got %q in %d writes", out.String(), out.writes)
	}
}

func TestIntervalFlush(t *testing.T) {
	out := &syncBuf{}
	w := New(out, 0, 5*time.Millisecond)
	defer w.Close()
	w.Write([]byte("tick\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("not flushed by the interval")
		}
		time.Sleep(time.Millisecond)
	}
}

type failWriter struct{}

func (failWriter) Write(p []byte) (int, error) { return 0, errors.New("disk full") }

func TestErrorReported(t *testing.T) {
	w := New(failWriter{}, 0, time.Hour)
	w.Write([]byte("x\n"))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	out := &syncBuf{}
	w := New(out, 256, time.Millisecond)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				w.Write([]byte("0123456789abcdef\n"))
			}
		}()
	}
	wg.Wait()
	w.Close()
	s := out.String()
	if strings.Count(s, "0123456789abcdef\n") != 4000 || len(s) != 4000*17 {
		t.Fatalf("lines interleaved or lost: %d bytes", len(s))
	}
}

// flakyWriter fails its first write only.
type flakyWriter struct {
	syncBuf
	failed bool
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	if !f.failed {
		f.failed = true
		return 0, errors.New("EAGAIN")
	}
	return f.syncBuf.Write(p)
}

func TestRecoversAfterWriteError(t *testing.T) {
	out := &flakyWriter{}
	w := New(out, 0, time.Hour)
	w.Write([]byte("lost\n"))
	if err := w.Flush(); err == nil {
		t.Fatal("first flush should fail")
	}
	w.Write([]byte("kept\n"))
	if err := w.Flush(); err != nil {
		t.Fatalf("writer stuck after one error: %v", err)
	}
	w.Close()
	if out.String() != "kept\n" {
		t.Fatalf("got %q", out.String())
	}
}
