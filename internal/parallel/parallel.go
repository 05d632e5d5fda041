// Package parallel runs the independent pieces of work a configuration load consists
// of (a document per provider) on every processor.
package parallel

import (
	"runtime"
	"sync"
)

// minPerWorker keeps small loads on one goroutine: starting workers costs more than a
// few documents.
const minPerWorker = 64

// For calls f(i) for every i in [0, n), on up to GOMAXPROCS goroutines, and returns the
// error of the lowest i that failed, or nil.
func For(n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), (n+minPerWorker-1)/minPerWorker)
	if workers <= 1 {
		for i := range n {
			if err := f(i); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				errs[i] = f(i)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
