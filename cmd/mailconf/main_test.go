package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{nil, 2, []string{"serve", "validate", "version"}},
		{[]string{"-h"}, 0, []string{"Commands:"}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`}},
		{[]string{"serve", "-h"}, 0, []string{"-http address", `(default ":8080")`, "-config file", "-log-format", `(default "text")`}},
		{[]string{"validate", "-h"}, 0, []string{"-config file", "built-in"}},
		{[]string{"version", "-h"}, 0, []string{"Usage: mailconf version"}},
		{[]string{"serve", "-nope"}, 2, []string{"flag provided but not defined: -nope"}},
		{[]string{"validate", "stray"}, 2, []string{`unexpected argument "stray"`}},
		{[]string{"serve", "-log-format", "xml", "-http", "127.0.0.1:0"}, 1, []string{`-log-format "xml"`}},
	} {
		code, stdout, stderr := runCmd(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, stdout, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", tc.args, w, stdout, stderr)
			}
		}
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(stdout, "mailconf ") || !strings.Contains(stdout, "go1.") {
		t.Fatalf("exit %d: %q", code, stdout)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(`providers:
  - id: example.net
    display_name: Example
    domains: [example.net]
    incoming:
      - type: imap
        hostname: imap.example.net
        port: 99999
        socket: TLS
    outgoing: []
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"validate"}, 0, []string{"builtin.yaml: ok (1 providers, 2 domains)"}},
		{[]string{"validate", "-config", "../../deploy/mailconf.example.yaml"}, 0, []string{"mailconf.example.yaml: ok (2 providers, 10 domains)"}},
		{[]string{"validate", "-config", bad}, 1, []string{
			bad + ":8: providers[0].incoming[0].port: 99999 is outside 1..65535",
			bad + `:9: providers[0].incoming[0].socket: "TLS" is not SSL, STARTTLS or plain`,
			bad + ":10: providers[0].outgoing: missing",
			"3 problem(s) in " + bad,
		}},
		{[]string{"validate", "-config", filepath.Join(dir, "missing.yaml")}, 1, []string{"no such file"}},
		{[]string{"validate", "-print"}, 0, []string{"- id: qq.com", "hostname: imap.qq.com", "port: 993", "socket: SSL", "nameservers:", "- ns1.mailconf.invalid"}},
	} {
		code, stdout, stderr := runCmd(t, tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tc.args, code, tc.code, stdout, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout+stderr, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", tc.args, w, stdout, stderr)
			}
		}
	}
}

// TestServe runs `mailconf serve` on the built-in default, fetches the QQ Mail
// document over a real listener, and stops it the way SIGTERM does.
func TestServe(t *testing.T) {
	d := startServe(t)
	req, _ := http.NewRequest("GET", "http://"+d.addr["http"]+"/mail/config-v1.1.xml?emailaddress=someone%40foxmail.com", nil)
	req.Host = "autoconfig.foxmail.com"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("<hostname>imap.qq.com</hostname>")) {
		t.Fatalf("status %d:\n%s", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	// Autodiscover paths match in any casing through the full stack.
	post, err := http.Post("http://"+d.addr["http"]+"/AutoDiscover/AUTODISCOVER.XML", "text/xml", strings.NewReader(`<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>u@qq.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`))
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(post.Body)
	post.Body.Close()
	if post.StatusCode != 200 || !bytes.Contains(pb, []byte("<Server>imap.qq.com</Server>")) {
		t.Fatalf("Autodiscover in mixed case: %d %s", post.StatusCode, pb)
	}
	logs := d.stop(t)
	sc := bufio.NewScanner(strings.NewReader(logs))
	found := false
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"msg":"http"`) && strings.Contains(line, `"method":"GET"`) {
			found = true
			for _, want := range []string{`"method":"GET"`, `"path":"/mail/config-v1.1.xml"`, `"status":200`, `"domain":"foxmail.com"`, `"duration":`, `"request_id":"` + resp.Header.Get("X-Request-Id") + `"`} {
				if !strings.Contains(line, want) {
					t.Errorf("request log %s lacks %s", line, want)
				}
			}
			if strings.Contains(line, "someone") || strings.Contains(line, "127.0.0.1:") {
				t.Errorf("request log leaks the address: %s", line)
			}
		}
	}
	if !found {
		t.Errorf("no request log line:\n%s", logs)
	}
}

// TestRecords parses the zone files `mailconf records` prints with a zone-file parser.
func TestRecords(t *testing.T) {
	code, stdout, stderr := runCmd(t, "records", "-config", "../../deploy/mailconf.example.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	zp := dns.NewZoneParser(strings.NewReader(stdout), "", "records")
	got := map[string]bool{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		got[rr.String()] = true
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"_imaps._tcp.example.com.\t3600\tIN\tSRV\t0 1 993 imap.example.com.",
		"_pop3s._tcp.example.com.\t3600\tIN\tSRV\t10 1 995 pop.example.com.",
		"_submissions._tcp.xn--bcher-kva.example.\t3600\tIN\tSRV\t0 1 465 smtp.example.com.",
		"_imaps._tcp.qq.com.\t3600\tIN\tSRV\t0 1 993 imap.qq.com.",
		"autoconfig.example.net.\t3600\tIN\tA\t192.0.2.10",
	} {
		if !got[want] {
			t.Errorf("missing %q in:\n%s", want, stdout)
		}
	}
}
