package clientrules

import (
	"strings"
	"testing"
)

func TestMTASTSPolicy(t *testing.T) {
	const good = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"
	for _, tc := range []struct{ name, body, want string }{
		{"good", good, ""},
		{"RFC example", "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n", ""},
		{"none without mx", "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n", ""},
		{"LF only", strings.ReplaceAll(good, "\r\n", "\n"), "CRLF"},
		{"no final CRLF", strings.TrimSuffix(good, "\r\n"), "CRLF"},
		{"version not first", "mode: enforce\r\nversion: STSv1\r\nmx: a.example\r\nmax_age: 1\r\n", "not the version"},
		{"bad version", strings.Replace(good, "STSv1", "STSv2", 1), "version"},
		{"bad mode", strings.Replace(good, "enforce", "Enforce", 1), "mode"},
		{"mode twice", strings.Replace(good, "mode: enforce\r\n", "mode: enforce\r\nmode: testing\r\n", 1), "twice"},
		{"max_age too big", strings.Replace(good, "604800", "31557601", 1), "max_age"},
		{"max_age negative", strings.Replace(good, "604800", "-1", 1), "max_age"},
		{"no max_age", strings.Replace(good, "max_age: 604800\r\n", "", 1), "no max_age"},
		{"no mx", "version: STSv1\r\nmode: testing\r\nmax_age: 86400\r\n", "no mx"},
		{"bad mx", strings.Replace(good, "*.example.net", "mx.*.example.net", 1), "mx"},
		{"unknown key", strings.Replace(good, "max_age", "maxage", 1), "never writes"},
		{"trailing space", strings.Replace(good, "enforce", "enforce ", 1), "trailing"},
		{"too big", good + strings.Repeat("mx: a.example\r\n", 5000), "senders stop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := MTASTSPolicy([]byte(tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("%v, want a rejection naming %q", err, tc.want)
			case tc.name == "good" && (p.Mode != "enforce" || len(p.MX) != 2 || p.MaxAge != 604800):
				t.Fatalf("read %+v", p)
			}
		})
	}
}

func TestMTASTSRecord(t *testing.T) {
	for _, tc := range []struct{ txt, id, want string }{
		{"v=STSv1; id=20160831085700Z;", "20160831085700Z", ""}, // RFC 8461 §3.1
		{"v=STSv1;id=abc", "abc", ""},
		{"v=STSv1; id=" + strings.Repeat("A", 32), strings.Repeat("A", 32), ""},
		{"v=STSv1; id=" + strings.Repeat("A", 33), "", "1 to 32"},
		{"v=STSv1; id=2024-01-01", "", "letters and digits"},
		{"id=abc; v=STSv1", "", "start with"},
		{"v=STSv1", "", "no id"},
		{"v=STSv1; id=a; id=b", "", "two id"},
		{"v=STSv1; bare", "", "key=value"},
	} {
		id, err := MTASTSRecord(tc.txt)
		switch {
		case tc.want == "" && (err != nil || id != tc.id):
			t.Errorf("%q: %q %v, want %q", tc.txt, id, err, tc.id)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want a rejection naming %q", tc.txt, err, tc.want)
		}
	}
}

func TestTLSRPTRecord(t *testing.T) {
	for _, tc := range []struct {
		txt  string
		n    int
		want string
	}{
		{"v=TLSRPTv1; rua=mailto:reports@example.com", 1, ""}, // RFC 8460 §3
		{"v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://tlsrpt.example.com/v1", 2, ""},
		{"v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt", 1, ""},
		{"v=TLSRPTv1; rua=http://example.com/r", 0, "neither a mailto:"},
		{"v=TLSRPTv1", 0, "no rua"},
		{"rua=mailto:a@example.com; v=TLSRPTv1", 0, "start with"},
	} {
		uris, err := TLSRPTRecord(tc.txt)
		switch {
		case tc.want == "" && (err != nil || len(uris) != tc.n):
			t.Errorf("%q: %v %v", tc.txt, uris, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: %v, want a rejection naming %q", tc.txt, err, tc.want)
		}
	}
}
