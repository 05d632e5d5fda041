package httpserver

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// RequestLog writes the line logged for every request, byte for byte as slog's
// TextHandler or JSONHandler would write it, without building a slog.Record: on a busy
// server slog's generic path (attribute walk, quoting checks, its own buffers) costs
// more than routing the request. A line with a value the short path does not know how
// to write (anything needing quotes or escapes but the empty string) goes through the
// slog handler instead. TestRequestLogMatchesSlog holds the two to the same output.
type RequestLog struct {
	out  io.Writer
	json bool
	slow slog.Handler // the handler whose format is copied; it also decides the level
	bufs sync.Pool    // *[]byte
}

// NewRequestLog writes request lines to out in the format of slow, which must be a
// *slog.TextHandler or *slog.JSONHandler writing to out with no ReplaceAttr and no
// attributes or groups of its own (as the daemon builds it). Any other handler gets
// every line itself.
func NewRequestLog(out io.Writer, slow slog.Handler) *RequestLog {
	l := &RequestLog{out: out, slow: slow}
	switch slow.(type) {
	case *slog.JSONHandler:
		l.json = true
	case *slog.TextHandler:
	default:
		l.out = nil
	}
	if out == nil {
		l.out = nil // an untyped nil: every line goes to slow
	}
	l.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return l
}

// requestLine is what is logged of one request.
type requestLine struct {
	end       time.Time
	method    string
	path      string
	status    int
	duration  time.Duration
	domain    string
	requestID string
	reason    string // empty: not logged
}

// enabled reports whether request lines are logged at all (the level is Info).
func (l *RequestLog) enabled(ctx context.Context) bool {
	return l.slow.Enabled(ctx, slog.LevelInfo)
}

// write logs one line.
func (l *RequestLog) write(ctx context.Context, line *requestLine) {
	if l.out == nil || !plain(line.method) || !plain(line.path) || !plainOrEmpty(line.domain) ||
		!plain(line.requestID) || !plainOrEmpty(line.reason) {
		_ = l.slow.Handle(ctx, line.record())
		return
	}
	bp := l.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	if l.json {
		b = l.appendJSON(b, line)
	} else {
		b = l.appendText(b, line)
	}
	_, _ = l.out.Write(b)
	if cap(b) <= 4<<10 {
		*bp = b
		l.bufs.Put(bp)
	}
}

// record is the line as a slog record, for the handler.
func (line *requestLine) record() slog.Record {
	rec := slog.NewRecord(line.end, slog.LevelInfo, "http", 0)
	rec.AddAttrs(
		slog.String("method", line.method),
		slog.String("path", line.path),
		slog.Int("status", line.status),
		slog.Duration("duration", line.duration),
		slog.String("domain", line.domain),
		slog.String("request_id", line.requestID),
	)
	if line.reason != "" {
		rec.AddAttrs(slog.String("reason", line.reason))
	}
	return rec
}

// appendText writes the line as slog's TextHandler does: the time to the millisecond
// in RFC 3339, then key=value pairs, strings bare unless they need quotes.
func (l *RequestLog) appendText(b []byte, line *requestLine) []byte {
	b = append(b, "time="...)
	b = appendRFC3339Millis(b, line.end)
	b = append(b, " level=INFO msg=http method="...)
	b = append(b, line.method...)
	b = append(b, " path="...)
	b = append(b, line.path...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(line.status), 10)
	b = append(b, " duration="...)
	b = append(b, line.duration.String()...)
	b = append(b, " domain="...)
	b = appendTextString(b, line.domain)
	b = append(b, " request_id="...)
	b = append(b, line.requestID...)
	if line.reason != "" {
		b = append(b, " reason="...)
		b = append(b, line.reason...)
	}
	return append(b, '\n')
}

// appendJSON writes the line as slog's JSONHandler does: the time in RFC 3339 with
// nanoseconds, the duration in nanoseconds.
func (l *RequestLog) appendJSON(b []byte, line *requestLine) []byte {
	b = append(b, `{"time":"`...)
	b = line.end.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"INFO","msg":"http","method":"`...)
	b = append(b, line.method...)
	b = append(b, `","path":"`...)
	b = append(b, line.path...)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(line.status), 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendInt(b, int64(line.duration), 10)
	b = append(b, `,"domain":"`...)
	b = append(b, line.domain...)
	b = append(b, `","request_id":"`...)
	b = append(b, line.requestID...)
	if line.reason != "" {
		b = append(b, `","reason":"`...)
		b = append(b, line.reason...)
	}
	return append(b, "\"}\n"...)
}

// appendRFC3339Millis writes t in RFC 3339 with exactly three fractional digits, as
// slog's TextHandler does (log/slog handler.go appendRFC3339Millis): RFC3339Nano of the
// time truncated to the millisecond plus a tenth of one, which keeps four digits, the
// last of which is dropped.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	const prefixLen = len("2006-01-02T15:04:05.000")
	n := len(b)
	t = t.Truncate(time.Millisecond).Add(time.Millisecond / 10)
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b[:n+prefixLen], b[n+prefixLen+1:]...)
}

// appendTextString writes a plain or empty string as TextHandler does: the empty string
// quoted.
func appendTextString(b []byte, s string) []byte {
	if s == "" {
		return append(b, `""`...)
	}
	return append(b, s...)
}

// plain reports whether s is non-empty and needs neither quotes in slog's text format nor
// escapes in JSON: printable ASCII without space, '"', '=' and '\\' (which JSON escapes).
// It also turns away '<', '>' and '&', which neither format changes, to stay clear of
// any handler that escapes HTML; such lines, rare in request paths, take the slog path.
func plain(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '=' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func plainOrEmpty(s string) bool { return s == "" || plain(s) }
