package mailconf

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailconf/mailconf/internal/yamlbomb"
)

// TestAliasesRefused: a configuration with aliases is refused at once, and the refusal
// costs little memory. The times are logged, not asserted beyond a generous bound (the
// machine is shared); the allocation bound is the real check.
func TestAliasesRefused(t *testing.T) {
	for name, data := range map[string][]byte{"alias bomb": []byte(yamlbomb.AliasBomb(3000)), "billion laughs": []byte(yamlbomb.BillionLaughs())} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := Parse("bomb.yaml", data)
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("accepted or failed otherwise: %v", err)
			}
			if !strings.Contains(err.Error(), "aliases") && !strings.Contains(err.Error(), "unknown key") {
				t.Errorf("error does not say why: %v", err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes refused in %v, %.1f MB allocated", len(data), took, float64(alloc)/1e6)
			if alloc > 50<<20 {
				t.Errorf("refusing it allocated %d MB, want under 50", alloc>>20)
			}
			if took > 5*time.Second {
				t.Errorf("refusing it took %v", took)
			}
			var pl *ProblemList
			if errors.As(err, &pl) && len(pl.Problems) > maxProblems+1 {
				t.Errorf("%d problems reported, want at most %d", len(pl.Problems), maxProblems+1)
			}
		})
	}
}

// TestLoadRefusesSpecialFiles: a FIFO (which would block a reader until a writer came)
// and a directory are refused before anything is read; so is a file over the size limit.
func TestLoadRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxConfigSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, want string
		is         error
	}{
		{fifo, "named pipe", ErrNotRegular},
		{dir, "directory", ErrNotRegular},
		{big, "more than the", nil},
	} {
		done := make(chan error, 1)
		go func() { _, err := Load(tc.path); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), tc.want) || tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Load(%s): %v, want an error saying %q", filepath.Base(tc.path), err, tc.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Load(%s) blocked", filepath.Base(tc.path))
		}
	}
}
