// Package golden holds test output against files in testdata, which `go test -update`
// rewrites from the current output.
package golden

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

// Updating reports whether the run was asked to rewrite golden files (-update).
func Updating() bool { return *update }

// Check compares got with the file at path, after writing got there under -update, and
// fails t (with got and how to rewrite the file) when they differ. It returns the
// file's contents, for the client-rule checks that read them back.
func Check(t testing.TB, path string, got []byte) []byte {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("output differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
	return want
}
