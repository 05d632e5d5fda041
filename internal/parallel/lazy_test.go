package parallel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestPrepare: the first Eager values are built before Prepare returns, the others on
// first use, each once however many goroutines ask; an error among the first Eager
// fails Prepare, a later one comes back from Get.
func TestPrepare(t *testing.T) {
	var built [300]atomic.Int32
	vals, err := Prepare(len(built), func(i int) (int, error) {
		built[i].Add(1)
		if i == 290 {
			return 0, fmt.Errorf("bad %d", i)
		}
		return i * 2, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range built {
		if want := int32(0); i < Eager {
			want = 1
			if built[i].Load() != want {
				t.Fatalf("value %d built %d times before use", i, built[i].Load())
			}
		} else if built[i].Load() != want {
			t.Fatalf("value %d built before use", i)
		}
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if v, err := vals[280].Get(); v != 560 || err != nil {
				t.Errorf("Get: %d %v", v, err)
			}
		})
	}
	wg.Wait()
	if built[280].Load() != 1 {
		t.Errorf("built %d times", built[280].Load())
	}
	if _, err := vals[290].Get(); err == nil {
		t.Error("a failing build gave no error")
	}
	if _, err := Prepare(10, func(i int) (int, error) { return 0, fmt.Errorf("bad %d", i) }); err == nil || err.Error() != "bad 0" {
		t.Errorf("Prepare: %v, want the first error", err)
	}
}
