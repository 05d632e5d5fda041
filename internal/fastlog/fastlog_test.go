package fastlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// records are the records both handlers format in the comparison tests.
func records() []slog.Record {
	var out []slog.Record
	add := func(msg string, attrs ...slog.Attr) {
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, msg, 0)
		r.AddAttrs(attrs...)
		out = append(out, r)
	}
	add("http",
		slog.String("method", "GET"), slog.String("path", "/mail/config-v1.1.xml"),
		slog.Int("status", 200), slog.Duration("duration", 1234567*time.Nanosecond),
		slog.String("domain", "qq.com"), slog.String("request_id", "a1b2-3"))
	add("configuration loaded", slog.String("source", "/etc/mailconf/mailconf.yaml"), slog.Int("providers", 2))
	add("odd", slog.String("empty", ""), slog.String("space", "a b"), slog.String("eq", "a=b"),
		slog.String("quote", `say "hi"`), slog.String("ctl", "a\nb\x00"), slog.String("utf8", "QQ邮箱"),
		slog.String("bad", "\xff"), slog.String("html", "<a&b>"), slog.String("sep", "x\u2028y"))
	add("kinds", slog.Bool("ok", true), slog.Float64("f", 1.5), slog.Uint64("u", 7), slog.Int64("neg", -3),
		slog.Any("err", errors.New("disk full")), slog.Any("list", []string{"a", "b"}),
		slog.Time("at", time.Date(2026, 11, 26, 5, 40, 0, 123, time.UTC)))
	add("group", slog.Group("g", slog.String("k", "v"), slog.Int("n", 1)))
	add("", slog.String("", "ignored"), slog.String("k", "v"))
	return out
}

// TestTextMatchesSlog formats the same records with slog.TextHandler and with this
// handler: the lines must be identical.
func TestTextMatchesSlog(t *testing.T) {
	for _, r := range records() {
		var want, got bytes.Buffer
		if err := slog.NewTextHandler(&want, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := New(&got, false, nil).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("text differs:\n got %s\nwant %s", got.String(), want.String())
		}
	}
}

// TestJSONMatchesSlog decodes the lines of slog.JSONHandler and of this handler: the
// values must be equal, and every line valid JSON.
func TestJSONMatchesSlog(t *testing.T) {
	for _, r := range records() {
		var want, got bytes.Buffer
		slog.NewJSONHandler(&want, nil).Handle(context.Background(), r)
		New(&got, true, nil).Handle(context.Background(), r)
		var wm, gm map[string]any
		if err := json.Unmarshal(want.Bytes(), &wm); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got.Bytes(), &gm); err != nil {
			t.Fatalf("invalid JSON %s: %v", got.String(), err)
		}
		// Groups are flattened here, nested in slog's output.
		if g, ok := wm["g"].(map[string]any); ok {
			delete(wm, "g")
			for k, v := range g {
				wm["g."+k] = v
			}
		}
		if !reflect.DeepEqual(gm, wm) {
			t.Errorf("JSON differs:\n got %s\nwant %s", got.String(), want.String())
		}
		if strings.Count(got.String(), "\n") != 1 {
			t.Errorf("not one line: %q", got.String())
		}
	}
}

func TestLevelsAttrsGroupsAndTime(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(New(&out, false, slog.LevelWarn)).With("component", "dns").WithGroup("q")
	log.Info("dropped")
	log.Warn("kept", "name", "qq.com")
	line := out.String()
	if strings.Contains(line, "dropped") || !strings.Contains(line, "level=WARN msg=kept component=dns q.name=qq.com\n") {
		t.Fatalf("%q", line)
	}
	if !strings.HasPrefix(line, "time=") {
		t.Fatalf("no time: %q", line)
	}
	var js bytes.Buffer
	slog.New(New(&js, true, nil)).Info("x", "a", 1)
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil || m["time"] == nil || m["level"] != "INFO" || m["a"] != 1.0 {
		t.Fatalf("%s %v", js.String(), err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// BenchmarkRequestLine compares the per-request log line with the standard handlers.
func BenchmarkRequestLine(b *testing.B) {
	for _, tc := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog-text", slog.NewTextHandler(discard{}, nil)},
		{"fastlog-text", New(discard{}, false, nil)},
		{"slog-json", slog.NewJSONHandler(discard{}, nil)},
		{"fastlog-json", New(discard{}, true, nil)},
	} {
		log := slog.New(tc.h)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "http",
					slog.String("method", "GET"), slog.String("path", "/mail/config-v1.1.xml"),
					slog.Int("status", 200), slog.Duration("duration", 12345*time.Nanosecond),
					slog.String("domain", "qq.com"), slog.String("request_id", "79a52f836b6a-2"))
			}
		})
	}
}

func TestTextTime(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 26, 5, 4, 3, 2_999_999, time.UTC),
		time.Date(999, 1, 2, 23, 59, 59, 999_000_000, time.FixedZone("x", 8*3600+30*60)),
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.FixedZone("y", -5*3600)),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := string(appendTextTime(nil, tm)), tm.Format(textTime); got != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
}
