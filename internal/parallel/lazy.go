package parallel

import "sync"

// Lazy is a value built on first use. Ten thousand providers need not have every
// document built before the server is ready: most are seldom asked for.
type Lazy[T any] struct {
	once  sync.Once
	build func() (T, error)
	v     T
	err   error
}

// NewLazy returns a value that build makes on first use.
func NewLazy[T any](build func() (T, error)) *Lazy[T] {
	return &Lazy[T]{build: build}
}

// Get returns the value, building it on the first call; concurrent first calls wait
// for the one build.
func (l *Lazy[T]) Get() (T, error) {
	l.once.Do(func() {
		l.v, l.err = l.build()
		l.build = nil
	})
	return l.v, l.err
}

// Eager is how many values Prepare builds before it returns: any configuration of
// ordinary size is then built, and checked, whole when it loads.
var Eager = 256

// Prepare returns n values built by build(i): the first Eager at once, on every
// processor, returning the error of the lowest i that failed; the rest on first use.
func Prepare[T any](n int, build func(i int) (T, error)) ([]*Lazy[T], error) {
	out := make([]*Lazy[T], n)
	for i := range out {
		out[i] = NewLazy(func() (T, error) { return build(i) })
	}
	err := For(min(n, Eager), func(i int) error {
		_, err := out[i].Get()
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
