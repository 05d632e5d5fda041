// Package logbuf batches log output: lines are copied into a buffer and written out when
// it fills or at a short interval, so a busy server does not make a write system call per
// request line.
package logbuf

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Defaults for New.
const (
	DefaultSize     = 64 << 10
	DefaultInterval = 100 * time.Millisecond
)

// Writer is an io.Writer that buffers whole writes and flushes them to the underlying
// writer when the buffer fills, every interval, and on Close. A single Write is never
// split across flushes unless it is larger than the buffer. Safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	out    io.Writer
	buf    *bufio.Writer
	err    error // first error from the underlying writer
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// New returns a Writer on w with a buffer of size bytes, flushed every interval.
// Zero values pick DefaultSize and DefaultInterval.
func New(w io.Writer, size int, interval time.Duration) *Writer {
	if size <= 0 {
		size = DefaultSize
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	lw := &Writer{out: w, buf: bufio.NewWriterSize(w, size), stop: make(chan struct{}), done: make(chan struct{})}
	go lw.flushEvery(interval)
	return lw
}

func (w *Writer) flushEvery(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = w.Flush()
		case <-w.stop:
			return
		}
	}
}

// Write buffers p. After Close it writes through.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > w.buf.Available() && w.buf.Buffered() > 0 {
		// Keep each line whole: flush what is there first.
		w.flushLocked()
	}
	n, err := w.buf.Write(p)
	if w.closed {
		if ferr := w.flushLocked(); err == nil {
			err = ferr
		}
	}
	return n, err
}

// flushLocked writes out the buffer. A bufio.Writer keeps its first error forever; after
// a failed write the buffered lines are dropped and the writer starts afresh, so one
// bad moment on stderr does not silence every later line.
func (w *Writer) flushLocked() error {
	err := w.buf.Flush()
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		w.buf.Reset(w.out)
	}
	return err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

// Close flushes, stops the background flusher and makes later writes unbuffered. It does
// not close the underlying writer. It returns the first write error seen, if any.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.err
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	<-w.done
	_ = w.Flush()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
