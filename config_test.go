package mailconf

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// goodProvider is a valid provider entry; bad configs below change one thing in it.
const goodProvider = `
  - id: example.net
    display_name: Example
    domains: [example.net]
    incoming:
      - type: imap
        hostname: imap.example.net
        port: 993
        socket: SSL
    outgoing:
      - hostname: smtp.example.net
        port: 465
        socket: SSL
`

// TestValidateRejects gives one bad configuration per rule and checks that the problem
// names the file, the line and the field.
func TestValidateRejects(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		line  int
		field string
		msg   string
	}{
		{"unknown top-level key", "providers:" + goodProvider + "listen: :80\n", 14, "listen", `unknown key "listen"`},
		{"unknown provider key", "providers:" + goodProvider + "    colour: blue\n", 14, "providers[0].colour", `unknown key "colour"`},
		{"unknown server key", strings.Replace("providers:"+goodProvider, "        port: 993", "        port: 993\n        tls: yes", 1), 9, "providers[0].incoming[0].tls", `unknown key "tls"`},
		{"bad socket", strings.Replace("providers:"+goodProvider, "socket: SSL", "socket: TLS", 1), 9, "providers[0].incoming[0].socket", `"TLS" is not SSL, STARTTLS or plain`},
		{"socket wrong case", strings.Replace("providers:"+goodProvider, "socket: SSL", "socket: ssl", 1), 9, "providers[0].incoming[0].socket", `"ssl" is not SSL`},
		{"bad incoming type", strings.Replace("providers:"+goodProvider, "type: imap", "type: exchange", 1), 6, "providers[0].incoming[0].type", `"exchange" is not an incoming server type`},
		{"bad outgoing type", strings.Replace("providers:"+goodProvider, "      - hostname: smtp", "      - type: imap\n        hostname: smtp", 1), 11, "providers[0].outgoing[0].type", `"imap" is not an outgoing server type`},
		{"bad authentication", strings.Replace("providers:"+goodProvider, "port: 465", "port: 465\n        authentication: plain", 1), 13, "providers[0].outgoing[0].authentication", `"plain" is not one of`},
		{"port zero", strings.Replace("providers:"+goodProvider, "port: 993", "port: 0", 1), 8, "providers[0].incoming[0].port", "0 is outside 1..65535"},
		{"port too big", strings.Replace("providers:"+goodProvider, "port: 465", "port: 70000", 1), 12, "providers[0].outgoing[0].port", "70000 is outside 1..65535"},
		{"port not a number", strings.Replace("providers:"+goodProvider, "port: 465", "port: smtps", 1), 12, "providers[0].outgoing[0].port", "want a whole number"},
		{"invalid hostname", strings.Replace("providers:"+goodProvider, "imap.example.net", "imap_server!.example.net", 1), 7, "providers[0].incoming[0].hostname", "letters, digits and hyphens"},
		{"placeholder hostname", strings.Replace("providers:"+goodProvider, "imap.example.net", "imap.%EMAILLOCALPART%", 1), 7, "providers[0].incoming[0].hostname", "the only placeholder a host name takes is %EMAILDOMAIN%"},
		{"placeholder inside a hostname", strings.Replace("providers:"+goodProvider, "imap.example.net", "imap.%EMAILDOMAIN%.net", 1), 7, "providers[0].incoming[0].hostname", "at its end"},
		{"bad label before the placeholder", strings.Replace("providers:"+goodProvider, "imap.example.net", "-imap.%EMAILDOMAIN%", 1), 7, "providers[0].incoming[0].hostname", "starts or ends with a hyphen"},
		{"per-domain hostname too long", strings.Replace(strings.Replace("providers:"+goodProvider, "imap.example.net", strings.Repeat("x", 63)+"."+strings.Repeat("y", 63)+".%EMAILDOMAIN%", 1), "domains: [example.net]", "domains: ["+strings.Repeat("a", 63)+"."+strings.Repeat("c", 63)+"."+strings.Repeat("b", 40)+".net]", 1), 4, "providers[0].domains[0]", "characters (at most 253)"},
		{"placeholder in a domain", strings.Replace("providers:"+goodProvider, "domains: [example.net]", "domains: [\"%EMAILDOMAIN%\"]", 1), 4, "providers[0].domains[0]", "only server hostnames take %EMAILDOMAIN%"},
		{"invalid domain", strings.Replace("providers:"+goodProvider, "domains: [example.net]", "domains: [-bad-.example]", 1), 4, "providers[0].domains[0]", "starts or ends with a hyphen"},
		{"invalid id", strings.Replace("providers:"+goodProvider, "id: example.net", "id: Example Mail", 1), 2, "providers[0].id", "not a valid hostname"},
		{"no incoming", strings.Replace("providers:"+goodProvider, "    incoming:\n      - type: imap\n        hostname: imap.example.net\n        port: 993\n        socket: SSL\n", "", 1), 2, "providers[0].incoming", "list at least one incoming"},
		{"no outgoing", strings.Replace("providers:"+goodProvider, "    outgoing:\n      - hostname: smtp.example.net\n        port: 465\n        socket: SSL\n", "", 1), 2, "providers[0].outgoing", "list at least one outgoing"},
		{"no domains", strings.Replace("providers:"+goodProvider, "    domains: [example.net]\n", "", 1), 2, "providers[0].domains", "list at least one domain"},
		{"domain claimed twice", "providers:" + goodProvider + strings.Replace(goodProvider, "id: example.net", "id: other.example", 1), 17, "providers[1].domains[0]", "domain example.net is already claimed by providers[0]"},
		{"domain claimed twice via IDN", "providers:" + strings.Replace(goodProvider, "[example.net]", "[bücher.example]", 1) + strings.Replace(strings.Replace(goodProvider, "id: example.net", "id: other.example", 1), "[example.net]", "[XN--BCHER-KVA.example]", 1), 17, "providers[1].domains[0]", "xn--bcher-kva.example is already claimed"},
		{"duplicate id", "providers:" + goodProvider + strings.Replace(goodProvider, "[example.net]", "[example.org]", 1), 15, "providers[1].id", `id "example.net" is already used by providers[0]`},
		{"builtin with other keys", "providers:\n  - builtin: qq.com\n    domains: [x.example]\n", 2, "providers[0]", "cannot also set other keys"},
		{"unknown builtin", "providers:\n  - builtin: gmail.com\n", 2, "providers[0].builtin", `no built-in provider "gmail.com"`},
		{"no providers", "providers: []\n", 1, "providers", "list at least one provider"},
		{"empty file", "", 0, "", "the file is empty"},
		{"not YAML", "providers: [\n", 1, "", "did not find expected node content"},
		{"mixed placeholder username", strings.Replace("providers:"+goodProvider, "port: 993", "port: 993\n        username: \"%EMAILLOCALPART%@corp\"", 1), 9, "providers[0].incoming[0].username", "a placeholder must be the whole username"},
		{"bad language tag", strings.Replace("providers:"+goodProvider, "display_name: Example", "display_name: {not a tag: x}", 1), 3, "providers[0].display_name", "not a language tag"},
		{"display name too long", strings.Replace("providers:"+goodProvider, "display_name: Example", "display_name: "+strings.Repeat("x", 61)+"\n    short_name: x", 1), 3, "providers[0].display_name", "at most 60 allowed"},
		{"bad documentation url", "providers:" + goodProvider + "    documentation:\n      - url: javascript:alert(1)\n        description: x\n", 15, "providers[0].documentation[0].url", "not an absolute http or https URL"},
		{"not_offered offered", "providers:" + goodProvider + "    not_offered: [imaps]\n", 14, "providers[0].not_offered[0]", "imaps is offered by imap.example.net:993"},
		{"not_offered unknown", "providers:" + goodProvider + "    not_offered: [caldav]\n", 14, "providers[0].not_offered[0]", `"caldav" is not a service name`},
		{"autodiscover http url", "providers:" + goodProvider + "autodiscover:\n  url: http://autodiscover.example.net/autodiscover/autodiscover.xml\n", 15, "autodiscover.url", "not an absolute https URL"},
		{"mobilesync answer", "providers:" + goodProvider + "autodiscover:\n  mobilesync_answer: eas\n", 15, "autodiscover.mobilesync_answer", `"eas": want imap`},
		{"dns address", "providers:" + goodProvider + "dns:\n  addresses: [192.0.2.300]\n", 15, "dns.addresses[0]", "not an IPv4 or IPv6 address"},
		{"dns weight range", "providers:" + goodProvider + "dns:\n  weight: 70000\n", 15, "dns.weight", "out of range"},
		{"domain too long for DNS", strings.Replace("providers:"+goodProvider, "domains: [example.net]", "domains: ["+strings.Repeat("a", 60)+"."+strings.Repeat("b", 60)+"."+strings.Repeat("c", 60)+"."+strings.Repeat("d", 50)+".com]", 1), 4, "providers[0].domains[0]", "too long to publish _autodiscover._tcp.<domain> in DNS"},
		{"dns nameserver", "providers:" + goodProvider + "dns:\n  nameservers: [ns1]\n", 15, "dns.nameservers[0]", "not a fully qualified name"},
		{"authentication list with a bad method", strings.Replace("providers:"+goodProvider, "port: 465", "port: 465\n        authentication: [OAuth2, plain]", 1), 13, "providers[0].outgoing[0].authentication[1]", `"plain" is not one of`},
		{"authentication twice", strings.Replace("providers:"+goodProvider, "port: 465", "port: 465\n        authentication: [password-cleartext, password-cleartext]", 1), 13, "providers[0].outgoing[0].authentication[1]", "listed twice"},
		{"dav without url", "providers:" + goodProvider + "    calendars:\n      - username: x\n", 15, "providers[0].calendars[0].url", "missing"},
		{"dav url with a query", "providers:" + goodProvider + "    contacts:\n      - url: https://dav.example.net/dav/?user=x\n", 15, "providers[0].contacts[0].url", "no user, query or fragment"},
		{"dav url on an address", "providers:" + goodProvider + "    calendars:\n      - url: https://192.0.2.1/dav/\n", 15, "providers[0].calendars[0].url", "must be a domain name"},
		{"dav port out of range", "providers:" + goodProvider + "    calendars:\n      - url: https://dav.example.net:70000/dav/\n", 15, "providers[0].calendars[0].url", "outside 1..65535"},
		{"dav paths differ", "providers:" + goodProvider + "    calendars:\n      - url: https://a.example.net/cal/\n      - url: https://b.example.net/caldav/\n", 16, "providers[0].calendars[1].url", "one TXT record carries the context path"},
		{"oauth2 incomplete", "providers:" + goodProvider + "    oauth2:\n      issuer: login.example.net\n      auth_url: https://login.example.net/auth\n", 14, "providers[0].oauth2.scope", "missing"},
		{"oauth2 http endpoint", "providers:" + goodProvider + "    oauth2:\n      issuer: login.example.net\n      scope: IMAP\n      auth_url: https://login.example.net/auth\n      token_url: http://login.example.net/token\n", 18, "providers[0].oauth2.token_url", "must be https"},
		{"mta-sts bad mode", "providers:" + goodProvider + "    mta_sts:\n      mode: strict\n      mx: [mx.example.net]\n", 15, "providers[0].mta_sts.mode", `"strict" is not enforce, testing or none`},
		{"mta-sts without mx", "providers:" + goodProvider + "    mta_sts:\n      mode: enforce\n", 14, "providers[0].mta_sts.mx", "missing"},
		{"mta-sts bad mx", "providers:" + goodProvider + "    mta_sts:\n      mode: testing\n      mx: [\"mx*.example.net\"]\n", 16, "providers[0].mta_sts.mx[0]", "not a host name or *. and a host name"},
		{"mta-sts max_age too big", "providers:" + goodProvider + "    mta_sts:\n      mode: testing\n      mx: [mx.example.net]\n      max_age: 31557601\n", 17, "providers[0].mta_sts.max_age", "want 1 to 31557600"},
		{"tls report to http", "providers:" + goodProvider + "    mta_sts:\n      mode: testing\n      mx: [mx.example.net]\n      report_to: http://example.net/r\n", 17, "providers[0].mta_sts.report_to[0]", "want a mailto: or https: URI"},
		{"tls report with a comma", "providers:" + goodProvider + "    mta_sts:\n      mode: testing\n      mx: [mx.example.net]\n      report_to: [\"mailto:a@example.net,b@example.net\"]\n", 17, "providers[0].mta_sts.report_to[0]", "percent-encoded"},
		{"tsig algorithm", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - {name: k, algorithm: hmac-md5, secret_file: x}\n", 17, "dns.transfer.keys[0].algorithm", `"hmac-md5" is not hmac-sha256`},
		{"tsig key name", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - {name: 'a key', secret_file: x}\n", 17, "dns.transfer.keys[0].name", "not a key name"},
		{"tsig key without name", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - {secret_file: /nonexistent/xfr.key}\n", 17, "dns.transfer.keys[0].name", "missing"},
		{"tsig key twice", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - {name: k, secret_file: deploy/xfr-example.key}\n      - {name: K., secret_file: deploy/xfr-example.key}\n", 18, "dns.transfer.keys[1].name", `key "k" is listed twice`},
		{"tsig secret file missing", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - name: k\n        secret_file: /nonexistent/xfr.key\n", 18, "dns.transfer.keys[0].secret_file", "no such file"},
		{"tsig secret not base64", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - name: k\n        secret_file: go.mod\n", 18, "dns.transfer.keys[0].secret_file", "go.mod does not hold a base64 secret"},
		{"tsig secret a directory", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - name: k\n        secret_file: deploy\n", 18, "dns.transfer.keys[0].secret_file", "is a directory"},
		{"tsig without secret file", "providers:" + goodProvider + "dns:\n  transfer:\n    keys:\n      - name: k\n", 17, "dns.transfer.keys[0].secret_file", "missing"},
		{"transfer allow", "providers:" + goodProvider + "dns:\n  transfer:\n    allow: [192.0.2.0/33]\n", 16, "dns.transfer.allow[0]", "not an address or CIDR prefix"},
		{"notify address", "providers:" + goodProvider + "dns:\n  notify: [ns2.example.net]\n", 15, "dns.notify[0]", "not an address"},
		{"notify port zero", "providers:" + goodProvider + "dns:\n  notify: [\"192.0.2.53:0\"]\n", 15, "dns.notify[0]", "not an address"},
		{"notify unknown key", "providers:" + goodProvider + "dns:\n  notify: [\"192.0.2.53 other\"]\n", 15, "dns.notify[0]", `key "other" is not one of dns.transfer.keys`},
		{"rrl slip", "providers:" + goodProvider + "dns:\n  rate_limit: {slip: 1000}\n", 15, "dns.rate_limit.slip", "want 0"},
		{"rrl prefix", "providers:" + goodProvider + "dns:\n  rate_limit:\n    ipv4_prefix_length: 33\n", 16, "dns.rate_limit.ipv4_prefix_length", "33: want 1..32"},
		{"rrl exempt", "providers:" + goodProvider + "dns:\n  rate_limit:\n    exempt: [localhost]\n", 16, "dns.rate_limit.exempt[0]", "not an address or CIDR prefix"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("bad.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("error %v is not ErrInvalidConfig", err)
			}
			var pl *ProblemList
			if !errors.As(err, &pl) {
				t.Fatalf("error %T is not a *ProblemList", err)
			}
			for _, p := range pl.Problems {
				if p.Warning || !strings.Contains(p.Message, tc.msg) {
					continue
				}
				if p.File != "bad.yaml" || p.Line != tc.line || p.Field != tc.field {
					t.Fatalf("problem %q at %s:%d field %q, want line %d field %q", p.Message, p.File, p.Line, p.Field, tc.line, tc.field)
				}
				want := "bad.yaml"
				if tc.line > 0 {
					want += ":" + strconv.Itoa(tc.line)
				}
				if !strings.HasPrefix(p.String(), want+": ") {
					t.Errorf("message %q does not start with %q", p.String(), want)
				}
				return
			}
			t.Fatalf("no problem containing %q in:\n%v", tc.msg, err)
		})
	}
}

// TestValidateListsEveryProblem checks that problems are not reported one at a time.
func TestValidateListsEveryProblem(t *testing.T) {
	bad := strings.NewReplacer("port: 993", "port: 0", "socket: SSL", "socket: TLS", "smtp.example.net", "bad_host").Replace("providers:" + goodProvider)
	_, err := Parse("bad.yaml", []byte(bad))
	var pl *ProblemList
	if !errors.As(err, &pl) || len(pl.Problems) < 4 {
		t.Fatalf("want at least 4 problems, got %v", err)
	}
}

func TestWarnings(t *testing.T) {
	plain := strings.Replace("providers:"+goodProvider, "socket: SSL", "socket: plain", 1)
	cat, err := Parse("warn.yaml", []byte(plain))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Warnings) != 1 || cat.Warnings[0].Line != 9 || !strings.Contains(cat.Warnings[0].String(), "warning: providers[0].incoming[0].socket: plain") {
		t.Fatalf("warnings %v", cat.Warnings)
	}
}

// TestServiceWarnings: what clients can use only in part is accepted with a warning.
func TestServiceWarnings(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"OAuth2 without its server", strings.Replace("providers:"+goodProvider, "port: 993", "port: 993\n        authentication: [OAuth2, password-cleartext]", 1), "providers[0].oauth2: servers offer OAuth2 but the provider has no oauth2 block"},
		{"oauth2 unused", "providers:" + goodProvider + "    oauth2:\n      issuer: login.example.net\n      scope: IMAP\n      auth_url: https://login.example.net/auth\n      token_url: https://login.example.net/token\n", "providers[0].oauth2: no server lists the OAuth2 method"},
		{"plain http dav", "providers:" + goodProvider + "    calendars:\n      - url: http://dav.example.net/\n", "providers[0].calendars[0].url: plain http"},
		{"short max_age", "providers:" + goodProvider + "    mta_sts:\n      mode: testing\n      mx: [mx.example.net]\n      max_age: 3600\n", "providers[0].mta_sts.max_age: 3600 seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat, err := Parse("warn.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range cat.Warnings {
				if strings.Contains(w.String(), "warning: "+tc.want) {
					return
				}
			}
			t.Fatalf("no warning %q in %v", tc.want, cat.Warnings)
		})
	}
}

// TestRoundTrip loads the example configuration and the built-in one, writes each back
// as YAML and loads that again: the result must be identical.
func TestRoundTrip(t *testing.T) {
	example, err := os.ReadFile("deploy/mailconf.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example's key file is named relative to the example's directory.
	for name, data := range map[string][]byte{"deploy/mailconf.example.yaml": example, "builtin": builtinYAML} {
		t.Run(name, func(t *testing.T) {
			cat, err := Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(cat.Warnings) > 0 {
				t.Errorf("warnings: %v", cat.Warnings)
			}
			out, err := yaml.Marshal(cat.Config())
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(name+"-again", out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !reflect.DeepEqual(cat.Config(), again.Config()) {
				t.Fatalf("round trip changed the configuration:\n%s", out)
			}
		})
	}
}

// TestDefault pins the built-in QQ Mail provider to the values in docs/qq-mail.md.
func TestDefault(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Providers) != 1 {
		t.Fatalf("%d providers", len(cat.Providers))
	}
	p := cat.Providers[0]
	if p.ID != mustDomain(t, "qq.com") || !reflect.DeepEqual(p.Domains, []Domain{mustDomain(t, "qq.com"), mustDomain(t, "foxmail.com")}) {
		t.Errorf("id %q domains %v", p.ID, p.Domains)
	}
	want := []Server{
		{Type: "imap", Hostname: mustHost(t, "imap.qq.com"), Port: 993, Socket: SocketSSL, Authentication: AuthMethods{AuthPasswordCleartext}, Username: PlaceholderAddress},
		{Type: "pop3", Hostname: mustHost(t, "pop.qq.com"), Port: 995, Socket: SocketSSL, Authentication: AuthMethods{AuthPasswordCleartext}, Username: PlaceholderAddress},
		{Type: "smtp", Hostname: mustHost(t, "smtp.qq.com"), Port: 465, Socket: SocketSSL, Authentication: AuthMethods{AuthPasswordCleartext}, Username: PlaceholderAddress},
	}
	if got := append(append([]Server(nil), p.Incoming...), p.Outgoing...); !reflect.DeepEqual(got, want) {
		t.Errorf("servers %+v", got)
	}
	if want := (Localized{{"en", "QQ Mail"}, {"zh-CN", "QQ邮箱"}}); !reflect.DeepEqual(p.DisplayName, want) {
		t.Errorf("display names %v", p.DisplayName)
	}
	for _, q := range []string{"qq.com", "foxmail.com"} {
		if got, ok := cat.Lookup(mustDomain(t, q)); !ok || got != p {
			t.Errorf("Lookup(%s)", q)
		}
	}
	if _, ok := cat.Lookup(mustDomain(t, "vip.qq.com")); ok {
		t.Error("vip.qq.com is unverified and must not be served by default")
	}
}

func TestParseAddress(t *testing.T) {
	cases := []struct {
		in, local, domain string
		ok                bool
	}{
		{"user@qq.com", "user", "qq.com", true},
		{"User.Name+tag@QQ.COM", "User.Name+tag", "qq.com", true},
		{"用户@bücher.example", "用户", "xn--bcher-kva.example", true},
		{`"a<b"@qq.com`, `"a<b"`, "qq.com", true},
		{`"a\"b"@qq.com`, `"a\"b"`, "qq.com", true},
		{"user@qq.com.", "user", "qq.com", true},
		{"a<b@qq.com", "", "", false},
		{"a&b@qq.com", "a&b", "qq.com", true}, // & is atext (RFC 5322 §3.2.3)
		{"a b@qq.com", "", "", false},
		{"a\x00b@qq.com", "", "", false},
		{"a\r\nb@qq.com", "", "", false},
		{"@qq.com", "", "", false},
		{"userqq.com", "", "", false},
		{"a@b@qq.com", "", "", false},
		{".a@qq.com", "", "", false},
		{"a..b@qq.com", "", "", false},
		{"a@qq", "", "", false},
		{"a@127.0.0.1", "", "", false},
		{"a@[127.0.0.1]", "", "", false},
		{"a@-x.com", "", "", false},
		{strings.Repeat("a", 65) + "@qq.com", "", "", false},
		{"a@" + strings.Repeat("b", 250) + ".com", "", "", false},
		{"a@xn--zzzz-.example", "", "", false},
		{"\xff@qq.com", "", "", false},
	}
	for _, tc := range cases {
		a, err := ParseAddress(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseAddress(%q): err %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q): %v is not ErrBadAddress", tc.in, err)
		}
		if tc.ok && (a.LocalPart != tc.local || a.Domain.String() != tc.domain) {
			t.Errorf("ParseAddress(%q) = %q, %q", tc.in, a.LocalPart, a.Domain)
		}
	}
}

func mustDomain(t testing.TB, s string) Domain {
	t.Helper()
	d, err := ParseDomain(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustHost(t testing.TB, s string) HostPattern {
	t.Helper()
	h, err := ParseHostPattern(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHostPattern(t *testing.T) {
	d := mustDomain(t, "customer.example")
	for _, tc := range []struct{ in, want, str string }{
		{"imap.%EMAILDOMAIN%", "imap.customer.example", "imap.%EMAILDOMAIN%"},
		{"IMAP.Mail.%EMAILDOMAIN%", "imap.mail.customer.example", "imap.mail.%EMAILDOMAIN%"},
		{"%EMAILDOMAIN%", "customer.example", "%EMAILDOMAIN%"},
		{"imap.qq.com", "imap.qq.com", "imap.qq.com"},
	} {
		h, err := ParseHostPattern(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := h.For(d).String(); got != tc.want || h.String() != tc.str {
			t.Errorf("%s: For = %s, String = %s; want %s, %s", tc.in, got, h.String(), tc.want, tc.str)
		}
	}
	for _, bad := range []string{"imap%EMAILDOMAIN%", "%EMAILLOCALPART%.example", "a..%EMAILDOMAIN%", "imap.%EMAILDOMAIN%.com", "%emaildomain%"} {
		if _, err := ParseHostPattern(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestTransferConfig loads transfer keys and NOTIFY targets from a configuration in a
// directory of its own, the key file named relative to it, and checks what the catalog
// holds: the decoded secret, the keys the targets sign with, the rate limit defaults,
// and a secret that never prints.
func TestTransferConfig(t *testing.T) {
	dir := t.TempDir()
	secret := []byte("0123456789abcdef0123456789abcdef")
	keyFile := "# test key\n" + base64.StdEncoding.EncodeToString(secret) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "xfr.key"), []byte(keyFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short.key"), []byte("c2hvcnQ=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "providers:" + goodProvider + `dns:
  transfer:
    allow: [192.0.2.53, "2001:db8::/64"]
    keys:
      - {name: XFR-Key., secret_file: xfr.key}
      - {name: other, algorithm: HMAC-SHA512, secret_file: short.key}
  notify: [192.0.2.53, "[2001:db8::53]:5300 other", "198.51.100.1:53 NOKEY"]
  rate_limit: {responses_per_second: 0}
`
	path := filepath.Join(dir, "mailconf.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tr := cat.DNS.Transfer
	if len(tr.Keys) != 2 || tr.Keys[0].Name.FQDN() != "xfr-key." || tr.Keys[0].Algorithm != HMACSHA256 ||
		!bytes.Equal(tr.Keys[0].Secret, secret) || tr.Keys[1].Algorithm != HMACSHA512 || string(tr.Keys[1].Secret) != "short" {
		t.Errorf("keys %+v", tr.Keys)
	}
	if want := []netip.Prefix{netip.MustParsePrefix("192.0.2.53/32"), netip.MustParsePrefix("2001:db8::/64")}; !reflect.DeepEqual(tr.Allow, want) {
		t.Errorf("allow %v", tr.Allow)
	}
	var targets []string
	for _, n := range cat.DNS.Notify {
		b, _ := n.MarshalText()
		targets = append(targets, string(b))
	}
	if want := []string{"192.0.2.53:53 xfr-key", "[2001:db8::53]:5300 other", "198.51.100.1:53 NOKEY"}; !slices.Equal(targets, want) {
		t.Errorf("notify %q, want %q", targets, want)
	}
	if len(cat.Warnings) != 1 || cat.Warnings[0].Field != "dns.transfer.keys[1].secret_file" || !strings.Contains(cat.Warnings[0].Message, "RFC 2104") {
		t.Errorf("warnings %v", cat.Warnings)
	}
	rl := cat.DNS.RateLimit
	if *rl.ResponsesPerSecond != 0 || *rl.Slip != 2 || rl.IPv4PrefixLength != 24 || rl.IPv6PrefixLength != 64 || !slices.Equal(rl.Exempt, DefaultRRLExempt) {
		t.Errorf("rate limit %+v", rl)
	}
	// The secret never prints, whichever way a value holding it is written.
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("key", slog.Any("key", tr.Keys[0]), slog.Any("secret", tr.Keys[0].Secret))
	printed := fmt.Sprintf("%v %+v %#v %s", tr.Keys[0], tr.Keys, tr.Keys[0].Secret, tr.Keys[0].Secret) + logged.String()
	out, err := yaml.Marshal(cat.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{printed, string(out)} {
		if strings.Contains(s, "0123456789abcdef") || strings.Contains(s, base64.StdEncoding.EncodeToString(secret)) || strings.Contains(s, "48 49 50") {
			t.Errorf("the secret is printed: %s", s)
		}
	}
	// A reload reads the key file again.
	if err := os.WriteFile(filepath.Join(dir, "xfr.key"), []byte(base64.StdEncoding.EncodeToString([]byte("a new secret of thirty-two bytes"))), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(again.DNS.Transfer.Keys[0].Secret) != "a new secret of thirty-two bytes" {
		t.Errorf("reloaded secret not read again")
	}
}

// TestNameserverWithoutAddress warns about a configured name server inside a served
// zone that has no address: resolvers could not reach it, and BIND refuses the zone.
func TestNameserverWithoutAddress(t *testing.T) {
	for _, c := range []struct {
		dns  string
		warn bool
	}{
		{"dns: {nameservers: [ns1.example.net]}\n", true},
		{"dns: {nameservers: [ns1.example.net], nameserver_addresses: {ns1.example.net: [192.0.2.1]}}\n", false},
		{"dns: {nameservers: [ns1.elsewhere.example]}\n", false},
		{"dns: {nameservers: [ns1.example.net], tcp_zones: true}\n", false},
	} {
		cat, err := Parse("ns.yaml", []byte("providers:"+goodProvider+c.dns))
		if err != nil {
			t.Fatal(err)
		}
		warned := len(cat.Warnings) == 1 && cat.Warnings[0].Field == "dns.nameservers[0]" && strings.Contains(cat.Warnings[0].Message, "inside the zone example.net")
		if warned != c.warn || len(cat.Warnings) > 1 {
			t.Errorf("%s: warnings %v", c.dns, cat.Warnings)
		}
	}
}

// TestCloneProviderSharesNothing: the validator writes defaults into a provider (DAV
// host and port, the MTA-STS max_age, ...), and built-in providers are shared by every
// parse, so their copy may share no slice or pointer with them. Every slice and pointer
// field of Provider, present and future, is checked.
func TestCloneProviderSharesNothing(t *testing.T) {
	var p Provider
	v := reflect.ValueOf(&p).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.Map:
			t.Errorf("Provider.%s is a map: cloneProvider and this test need to copy it", v.Type().Field(i).Name)
		}
	}
	c := cloneProvider(p)
	cv := reflect.ValueOf(c)
	for i := range v.NumField() {
		f, cf := v.Field(i), cv.Field(i)
		if (f.Kind() == reflect.Slice || f.Kind() == reflect.Pointer) && f.Pointer() == cf.Pointer() {
			t.Errorf("the copy shares Provider.%s with the original", v.Type().Field(i).Name)
		}
	}
}
