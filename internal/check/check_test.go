package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestParseConnectTo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ConnectTo
		err  bool
	}{
		{in: "example.com:443:127.0.0.1:8443", want: ConnectTo{"example.com", "443", "127.0.0.1", "8443"}},
		{in: "::127.0.0.1:8080", want: ConnectTo{"", "", "127.0.0.1", "8080"}},
		{in: ":443:[::1]:8443", want: ConnectTo{"", "443", "::1", "8443"}},
		{in: "[2001:db8::1]:443::", want: ConnectTo{"2001:db8::1", "443", "", ""}},
		{in: ":::", want: ConnectTo{}},
		{in: "a:b", err: true},
		{in: "a:1:b", err: true},
		{in: "a:1:b:2:3", err: true},
		{in: "a:0:b:2", err: true},
		{in: "a:1:b:65536", err: true},
		{in: "[::1:443:b:2", err: true},
		{in: "a:x:b:2", err: true},
	} {
		got, err := ParseConnectTo(tc.in)
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("%q: %+v %v", tc.in, got, err)
		}
		if err == nil {
			if back, _ := ParseConnectTo(got.String()); back != got {
				t.Errorf("%q: String %q reads back as %+v", tc.in, got.String(), back)
			}
		}
	}
	rules := []ConnectTo{{"autoconfig.example.com", "443", "127.0.0.1", "9443"}, {"", "443", "127.0.0.1", "8443"}, {"", "", "", "8080"}}
	for _, tc := range []struct{ host, port, want string }{
		{"autoconfig.example.com", "443", "127.0.0.1:9443"},
		{"AutoConfig.Example.com.", "443", "127.0.0.1:9443"},
		{"example.com", "443", "127.0.0.1:8443"},
		{"example.com", "80", "example.com:8080"},
	} {
		h, p, ok := apply(rules, tc.host, tc.port)
		if !ok || h+":"+p != tc.want {
			t.Errorf("%s:%s goes to %s:%s, want %s", tc.host, tc.port, h, p, tc.want)
		}
	}
	if _, _, ok := apply(rules[:2], "example.com", "80"); ok {
		t.Error("a rule for 443 matched port 80")
	}
}

// verbs lists the arguments a format string uses: index and verb, in fmt's numbering.
func verbs(f string) []string {
	var out []string
	arg := 1
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		if i < len(f) && f[i] == '[' {
			end := strings.IndexByte(f[i:], ']')
			fmt.Sscanf(f[i+1:i+end], "%d", &arg)
			i += end + 1
		}
		for i < len(f) && strings.IndexByte("+-# 0123456789.", f[i]) >= 0 {
			i++
		}
		if i < len(f) {
			out = append(out, fmt.Sprintf("%d%c", arg, f[i]))
			arg++
		}
	}
	slices.Sort(out)
	return out
}

// TestMessages: every message exists in both languages and takes the same arguments in
// each; the families all have titles.
func TestMessages(t *testing.T) {
	for key, m := range messages {
		if m[0] == "" || m[1] == "" {
			t.Errorf("%s: a language is missing", key)
		}
		if en, zh := verbs(m[0]), verbs(m[1]); !slices.Equal(en, zh) {
			t.Errorf("%s: English takes %v, Chinese %v", key, en, zh)
		}
	}
	for _, f := range []string{"autoconfig", "outlook", "srv", "apple", "agreement", "tls", "dns", "servers", "config"} {
		if _, ok := messages["family."+f]; !ok {
			t.Errorf("family %s has no title", f)
		}
	}
	if got := tr(langZH, "found.refused", "a.example", "443"); got != "连接 a.example 的 443 端口被拒绝" {
		t.Errorf("zh: %q", got)
	}
	if got := tr(langEN, "no.such.key"); got != "!(no.such.key)" {
		t.Errorf("missing key: %q", got)
	}
}

func TestGreetingProtocol(t *testing.T) {
	for line, want := range map[string]string{
		"* OK [CAPABILITY IMAP4rev1] ready": "imap",
		"* PREAUTH ready":                   "imap",
		"+OK POP3 ready":                    "pop3",
		"-ERR busy":                         "pop3",
		"220 smtp.example.com ESMTP":        "smtp",
		"220-smtp.example.com":              "smtp",
		"554":                               "smtp",
		"HTTP/1.1 400 Bad Request":          "",
		"\x16\x03\x01":                      "",
	} {
		if got := greetingProtocol(line); got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
	if got := clean("a\x1b[31mb\x00c\u0085"+strings.Repeat("x", 10), 8); got != "a?[31mb?…" {
		t.Errorf("clean: %q", got)
	}
}

// TestLookup resolves through aliases against a DNS server on loopback: one that
// answers the chain at once, as a resolver does, and one that leaves the target to a
// second question, as an authoritative server for another zone does.
func TestLookup(t *testing.T) {
	zone := map[string][]string{
		"autoconfig.example.com.":   {"autoconfig.example.com. 300 IN CNAME web.example.com.", "web.example.com. 300 IN A 192.0.2.1"},
		"autodiscover.example.com.": {"autodiscover.example.com. 300 IN CNAME host.example.org."},
		"host.example.org.":         {"host.example.org. 300 IN A 192.0.2.2", "host.example.org. 300 IN AAAA 2001:db8::2"},
		"web.example.com.":          {"web.example.com. 300 IN A 192.0.2.1"},
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := strings.ToLower(q.Question[0].Name)
		rrs, ok := zone[name]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Error(err)
				continue
			}
			if rr.Header().Rrtype == q.Question[0].Qtype || rr.Header().Rrtype == dns.TypeCNAME {
				m.Answer = append(m.Answer, rr)
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()

	n := newNetwork([]string{pc.LocalAddr().String()}, nil, 2*time.Second, "test")
	ctx := context.Background()
	a := n.lookup(ctx, "autoconfig.example.com")
	if a.err != nil || fmt.Sprint(a.addrs) != "[192.0.2.1]" || fmt.Sprint(a.cnames) != "[autoconfig.example.com → web.example.com]" {
		t.Errorf("chain in one answer: %v %v %v", a.addrs, a.cnames, a.err)
	}
	a = n.lookup(ctx, "autodiscover.example.com.")
	if a.err != nil || fmt.Sprint(a.addrs) != "[192.0.2.2 2001:db8::2]" || fmt.Sprint(a.cnames) != "[autodiscover.example.com → host.example.org]" {
		t.Errorf("chain over two questions: %v %v %v", a.addrs, a.cnames, a.err)
	}
	a = n.lookup(ctx, "nothing.example.com")
	var na *errNoAddress
	if !errors.As(a.err, &na) || na.why != "NXDOMAIN" {
		t.Errorf("no such name: %v", a.err)
	}
	// A server that does not answer: the step's timeout ends the question.
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer dead.Close()
	n = newNetwork([]string{dead.LocalAddr().String()}, nil, 200*time.Millisecond, "test")
	if a := n.lookup(ctx, "autoconfig.example.com"); a.err == nil || !isDNSFailure(a.err) {
		t.Errorf("silent server: %v", a.err)
	}
}
