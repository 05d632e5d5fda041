package parallel

import (
	"errors"
	"fmt"
	"testing"
)

func TestFor(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 65, 1000} {
		seen := make([]int, n)
		if err := For(n, func(i int) error { seen[i]++; return nil }); err != nil {
			t.Fatal(err)
		}
		for i, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: index %d done %d times", n, i, c)
			}
		}
	}
	err := For(1000, func(i int) error {
		if i == 700 || i == 900 {
			return fmt.Errorf("at %d", i)
		}
		return nil
	})
	if err == nil || err.Error() != "at 700" {
		t.Errorf("error %v, want the lowest", err)
	}
	if err := For(3, func(i int) error { return errors.New("x") }); err == nil {
		t.Error("lost the error of a small load")
	}
}
