package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/mailconf/mailconf/internal/golden"
)

// readmeReportStart and readmeReportEnd delimit the example report in README.md: from
// its first line to the next section.
const (
	readmeReportStart = "    mailconf check alice@example.net (example.net), "
	readmeReportEnd   = "## Development"
)

// reportDates are the parts of a report that change from run to run: the time of the
// check and the certificates' expiry dates.
var reportDates = regexp.MustCompile(`\d{4}-\d{2}-\d{2}( \d{2}:\d{2} UTC)?`)

// TestCheckREADMEExample sets up the deployment the README describes for its example
// report (example.net on mailconf with a test CA, its zone published from a copy in
// which IMAP's port became 143, no web site on example.net) and holds the README's
// report to what check writes, dates aside. -update rewrites the README's copy.
func TestCheckREADMEExample(t *testing.T) {
	s := newCheckSetup(t)
	certPath, keyPath := s.goodCert(t)
	d := s.serveHTTPS(t, certPath, keyPath)
	cfg := writeConfig(t, t.TempDir(), "copied-zone.yaml", strings.Replace(checkYAML, "port: 993", "port: 143", 1))
	dns := startServe(t, "-config", cfg, "-http", "", "-admin", "").addr["dns"]
	// As in the README, -connect-to keeps each host name, which check resolves through
	// mailconf's DNS, and changes only the port.
	port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
	code, _, out, stderr := runCheckCmd(t, "-resolver", dns, "-connect-to", ":443::"+port(d.addr["https"]),
		"-connect-to", ":80::"+port(d.addr["http"]), "-ca", s.caFile, "-lang", "en", "alice@example.net")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (the SRV records disagree):\n%s\n%s", code, out, stderr)
	}

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, readmeReportStart)
	end := strings.Index(text, readmeReportEnd)
	if start < 0 || end < start {
		t.Fatal("README.md has no example report before its Development section")
	}
	var indented strings.Builder
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if line != "" {
			indented.WriteString("    " + line)
		}
		indented.WriteString("\n")
	}
	if golden.Updating() {
		updated := text[:start] + indented.String() + "\n" + text[end:]
		if err := os.WriteFile("../../README.md", []byte(updated), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := reportDates.ReplaceAllString(strings.TrimRight(text[start:end], "\n"), "DATE")
	got := reportDates.ReplaceAllString(strings.TrimRight(indented.String(), "\n"), "DATE")
	if got != want {
		wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
		for i := range max(len(wl), len(gl)) {
			var w, g string
			if i < len(wl) {
				w = wl[i]
			}
			if i < len(gl) {
				g = gl[i]
			}
			if w != g {
				t.Fatalf("the README's example report differs from check's, first at line %d (go test ./cmd/mailconf -run TestCheckREADMEExample -update rewrites it):\nREADME: %q\ncheck:  %q", i+1, w, g)
			}
		}
	}
}
