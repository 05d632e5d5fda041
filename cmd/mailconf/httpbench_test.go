package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkHTTPLoopback sends the requests clients send most to a whole `mailconf serve`
// (connection caps, request log, metrics; the default configuration sets no rate limit)
// over keep-alive loopback connections, beside a bare net/http server that writes the
// same bytes: the gap between the two is what mailconf's own layers cost. The client is a loop over raw connections
// that allocates nothing, so allocs/op are the servers'. bench/nginx-compare.sh measures
// the same requests against nginx, in CPU time per request.
func BenchmarkHTTPLoopback(b *testing.B) {
	d := startServe(b, "-dns", "", "-admin", "")
	d.logs.mu.Lock()
	d.logs.discard = true // the request log is written and formatted, then dropped
	d.logs.mu.Unlock()
	const pox = `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@qq.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`
	requests := []struct{ name, raw string }{
		{"autoconfig-email", "GET /mail/config-v1.1.xml?emailaddress=alice%40qq.com HTTP/1.1\r\nHost: autoconfig.qq.com\r\n\r\n"},
		{"pox", "POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: autodiscover.qq.com\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: " +
			strconv.Itoa(len(pox)) + "\r\n\r\n" + pox},
	}
	for _, rq := range requests {
		// The bare server answers with the body mailconf gives.
		body := fetchBody(b, d.addr["http"], rq.raw)
		bare := startBare(b, body)
		b.Run(rq.name+"/mailconf", func(b *testing.B) { loopback(b, d.addr["http"], rq.raw) })
		b.Run(rq.name+"/net-http", func(b *testing.B) { loopback(b, bare, rq.raw) })
	}
}

// startBare serves body to every request from a plain net/http server with mailconf's
// timeouts, the floor under which a net/http server cannot go.
func startBare(b *testing.B, body []byte) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ct, cc, cl := []string{"text/xml; charset=utf-8"}, []string{"no-cache"}, []string{strconv.Itoa(len(body))}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header()["Content-Type"] = ct
			w.Header()["Cache-Control"] = cc
			w.Header()["Content-Length"] = cl
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 20 * time.Second, WriteTimeout: 20 * time.Second, IdleTimeout: 120 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// fetchBody sends raw once and returns the answer's body, failing unless it is a 200.
func fetchBody(b *testing.B, addr, raw string) []byte {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		b.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	return body
}

// loopback sends raw over 16 keep-alive connections, one request in flight on each, and
// reads every answer whole.
func loopback(b *testing.B, addr, raw string) {
	const conns = 16
	var wg sync.WaitGroup
	var next sync.Mutex
	remaining := b.N
	take := func() bool {
		next.Lock()
		defer next.Unlock()
		remaining--
		return remaining >= 0
	}
	errs := make(chan error, conns)
	b.ReportAllocs()
	b.ResetTimer()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Minute)) // a stuck server fails the run
			r := &answerReader{r: bufio.NewReaderSize(c, 16<<10)}
			req := []byte(raw)
			for take() {
				if _, err := c.Write(req); err != nil {
					errs <- err
					return
				}
				if err := r.readAnswer(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// answerReader reads HTTP/1.1 answers with a Content-Length without allocating.
type answerReader struct {
	r    *bufio.Reader
	body [8 << 10]byte
}

var contentLength = []byte("content-length:")

func (a *answerReader) readAnswer() error {
	status := true
	length := -1
	for {
		line, err := a.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if status {
			if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
				return fmt.Errorf("answer %q", line)
			}
			status = false
			continue
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > len(contentLength) && bytes.EqualFold(line[:len(contentLength)], contentLength) {
			length = 0
			for _, ch := range bytes.TrimSpace(line[len(contentLength):]) {
				length = length*10 + int(ch-'0')
			}
		}
	}
	if length < 0 || length > len(a.body) {
		return fmt.Errorf("content length %d", length)
	}
	_, err := io.ReadFull(a.r, a.body[:length])
	return err
}
