package httpserver

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// requestLogOutputs writes line with a RequestLog in format ("text" or "json") and with
// the slog handler it copies; fast is what the short path wrote (empty when it handed
// the line to slog).
func requestLogOutputs(t testing.TB, format string, line requestLine) (fast, viaSlog, want string) {
	var fastOut, slowOut, refOut bytes.Buffer
	var slow, ref slog.Handler
	if format == "json" {
		slow, ref = slog.NewJSONHandler(&slowOut, nil), slog.NewJSONHandler(&refOut, nil)
	} else {
		slow, ref = slog.NewTextHandler(&slowOut, nil), slog.NewTextHandler(&refOut, nil)
	}
	l := NewRequestLog(&fastOut, slow)
	l.write(context.Background(), &line)
	if err := ref.Handle(context.Background(), line.record()); err != nil {
		t.Fatal(err)
	}
	return fastOut.String(), slowOut.String(), refOut.String()
}

// TestRequestLogMatchesSlog: the request line is byte for byte what slog writes, by the
// short path for plain values and through slog for the rest.
func TestRequestLogMatchesSlog(t *testing.T) {
	at := time.Date(2026, 11, 30, 3, 7, 38, 671_000_000, time.UTC)
	base := requestLine{end: at, method: "GET", path: "/mail/config-v1.1.xml", status: 200,
		duration: 1162 * time.Nanosecond, domain: "qq.com", requestID: "f92d33435683-mpu"}
	with := func(f func(*requestLine)) requestLine { l := base; f(&l); return l }
	cases := []struct {
		name  string
		line  requestLine
		short bool // written by the short path
	}{
		{"plain", base, true},
		{"no domain", with(func(l *requestLine) { l.domain = "" }), true},
		{"reason", with(func(l *requestLine) { l.reason = "unknown-domain" }), true},
		{"whole second", with(func(l *requestLine) { l.end = at.Truncate(time.Second) }), true},
		{"nanoseconds", with(func(l *requestLine) { l.end = at.Add(123_456) }), true},
		{"millisecond rounding", with(func(l *requestLine) { l.end = at.Add(999_999) }), true},
		{"other zone", with(func(l *requestLine) { l.end = at.In(time.FixedZone("CST", 8*3600)) }), true},
		{"long duration", with(func(l *requestLine) { l.duration = 90*time.Minute + 5*time.Millisecond }), true},
		{"zero duration", with(func(l *requestLine) { l.duration = 0 }), true},
		{"status 0", with(func(l *requestLine) { l.status = 0 }), true},
		{"escaped path", with(func(l *requestLine) { l.path = "/a%20b%22c" }), true},
		{"space in path", with(func(l *requestLine) { l.path = "/a b" }), false},
		{"quote", with(func(l *requestLine) { l.path = `/a"b` }), false},
		{"equals", with(func(l *requestLine) { l.path = "/a=b" }), false},
		{"backslash", with(func(l *requestLine) { l.path = `/a\b` }), false},
		{"html", with(func(l *requestLine) { l.path = "/<a>&" }), false},
		{"control", with(func(l *requestLine) { l.path = "/a\x01\n" }), false},
		{"unicode", with(func(l *requestLine) { l.path = "/邮件" }), false},
		{"bad utf-8", with(func(l *requestLine) { l.path = "/\xff" }), false},
		{"empty method", with(func(l *requestLine) { l.method = "" }), false},
		{"reason with space", with(func(l *requestLine) { l.reason = "a b" }), false},
	}
	for _, format := range []string{"text", "json"} {
		for _, tc := range cases {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				fast, viaSlog, want := requestLogOutputs(t, format, tc.line)
				got := fast + viaSlog
				if got != want {
					t.Errorf("wrote\n%s\nslog writes\n%s", got, want)
				}
				if (fast != "") != tc.short {
					t.Errorf("short path taken: %v, want %v", fast != "", tc.short)
				}
			})
		}
	}
}

// TestRequestLogLevel: above Info nothing is written, by either path.
func TestRequestLogLevel(t *testing.T) {
	var out bytes.Buffer
	l := NewRequestLog(&out, slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if l.enabled(context.Background()) {
		t.Fatal("request lines are enabled at level warn")
	}
	if l2 := NewRequestLog(nil, slog.NewJSONHandler(&out, nil)); !l2.enabled(context.Background()) {
		t.Fatal("request lines are disabled at level info")
	}
}

// FuzzRequestLog: whatever the values, the line is the one slog writes.
func FuzzRequestLog(f *testing.F) {
	f.Add("GET", "/mail/config-v1.1.xml", "qq.com", "", 200, int64(1162), int64(1_796_000_000_671_000_000))
	f.Add("POST", "/a b", "", "bad-request", 400, int64(0), int64(0))
	f.Add("GET", "/\xff\"=", "x", "a\\b", 404, int64(-5), int64(-1))
	f.Fuzz(func(t *testing.T, method, path, domain, reason string, status int, d, unixNano int64) {
		line := requestLine{end: time.Unix(0, unixNano).UTC(), method: method, path: path, status: status,
			duration: time.Duration(d), domain: domain, requestID: "abc-1", reason: reason}
		if y := line.end.Year(); y < 0 || y >= 10000 {
			return // slog's JSON writes an error there; the server's clock is not there
		}
		for _, format := range []string{"text", "json"} {
			fast, viaSlog, want := requestLogOutputs(t, format, line)
			if got := fast + viaSlog; got != want {
				t.Fatalf("%s: wrote\n%q\nslog writes\n%q", format, got, want)
			}
		}
	})
}
