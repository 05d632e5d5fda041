//go:build !unix

package mailconf

import "os"

// openNonBlocking opens path for reading. Without O_NONBLOCK, a path that is not a
// regular file is refused before it is opened.
func openNonBlocking(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, ErrNotRegular
	}
	return os.Open(path)
}
