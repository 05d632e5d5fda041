package main

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
)

// TestMain runs the command itself when MAILCONF_RUN_MAIN is set, so that a test can
// start mailconf as a process of its own (in another network namespace, say).
func TestMain(m *testing.M) {
	if os.Getenv("MAILCONF_RUN_MAIN") != "" {
		main()
	}
	os.Exit(m.Run())
}

// TestDAVWithRadicale publishes a real CalDAV and CardDAV server (Debian's radicale,
// over HTTPS with a test CA) and follows what a client does (RFC 6764 §6): the SRV and
// TXT records from mailconf's DNS name the host, port and context path; the
// well-known URI on the mail domain redirects to the service; a PROPFIND there, with
// the user's login, finds the principal, and its calendar and address book homes.
func TestDAVWithRadicale(t *testing.T) {
	needTool(t, "radicale", "radicale")
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, 7, filepath.Join(dir, "dav.pem"), filepath.Join(dir, "dav.key"), "dav.example.test")
	port := freeTCPPort(t)
	writeConfig(t, dir, "users", "alice:secret\n")
	writeConfig(t, dir, "radicale.conf", fmt.Sprintf(`[server]
hosts = 127.0.0.1:%d
ssl = True
certificate = %[2]s/dav.pem
key = %[2]s/dav.key
[auth]
type = htpasswd
htpasswd_filename = %[2]s/users
htpasswd_encryption = plain
[rights]
type = owner_only
[storage]
filesystem_folder = %[2]s/collections
`, port, dir))
	// Debian's radicale runs under the system Python, which has its modules.
	cmd := exec.Command("/usr/bin/python3", "-m", "radicale", "--config", filepath.Join(dir, "radicale.conf"))
	var radLog lockedBuffer
	cmd.Stdout, cmd.Stderr = &radLog, &radLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitTCP(t, port, &radLog)

	base := fmt.Sprintf("https://dav.example.test:%d", port)
	cfg := writeConfig(t, dir, "mailconf.yaml", fmt.Sprintf(`providers:
  - id: example.test
    display_name: Example
    domains: [example.test]
    incoming: [{type: imap, hostname: imap.example.test, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.example.test, port: 465, socket: SSL}]
    calendars: [{url: "%[1]s/"}]
    contacts: [{url: "%[1]s/", username: "%%EMAILLOCALPART%%"}]
`, base))
	d := startServe(t, "-config", cfg)
	defer d.stop(t)

	// Every name resolves to loopback, where Radicale listens, and the test CA is trusted.
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.pool},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, p, _ := net.SplitHostPort(addr)
				return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", p))
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, svc := range []struct{ srv, wellKnown, home, ns string }{
		{"_caldavs._tcp.example.test.", "/.well-known/caldav", "calendar-home-set", "urn:ietf:params:xml:ns:caldav"},
		{"_carddavs._tcp.example.test.", "/.well-known/carddav", "addressbook-home-set", "urn:ietf:params:xml:ns:carddav"},
	} {
		t.Run(svc.wellKnown, func(t *testing.T) {
			// RFC 6764 §3, §4: SRV for host and port, TXT path= for the context path.
			srv := askDNS(t, d.addr["dns"], svc.srv, dns.TypeSRV)
			txt := askDNS(t, d.addr["dns"], svc.srv, dns.TypeTXT)
			if len(srv) != 1 || len(txt) != 1 {
				t.Fatalf("SRV %v, TXT %v", srv, txt)
			}
			s := srv[0].(*dns.SRV)
			path, ok := strings.CutPrefix(strings.Join(txt[0].(*dns.TXT).Txt, ""), "path=")
			if s.Target != "dav.example.test." || int(s.Port) != port || !ok || path != "/" {
				t.Fatalf("SRV %v, TXT %v", s, txt[0])
			}
			// RFC 6764 §5: the well-known URI on the mail domain redirects, PROPFIND too.
			req, _ := http.NewRequest("PROPFIND", "http://"+d.addr["http"]+svc.wellKnown, nil)
			req.Host = "example.test"
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusMovedPermanently || loc != base+path {
				t.Fatalf("%s: %d to %q", svc.wellKnown, resp.StatusCode, loc)
			}
			// RFC 6764 §6, §7: PROPFIND current-user-principal at the context path.
			principal := propfind(t, client, loc, "alice", `<D:current-user-principal/>`, "DAV:", "current-user-principal")
			if principal != "/alice/" {
				t.Fatalf("principal %q\n%s", principal, radLog.String())
			}
			home := propfind(t, client, base+principal, "alice", `<C:`+svc.home+`/>`, svc.ns, svc.home)
			if home != "/alice/" {
				t.Fatalf("%s %q", svc.home, home)
			}
		})
	}
	// Without the password Radicale refuses: the PROPFIND above was authenticated.
	req, _ := http.NewRequest("PROPFIND", base+"/alice/", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous PROPFIND: %d", resp.StatusCode)
	}
}

// propfind asks url for one property with Depth 0 as user and returns the href inside
// it.
func propfind(t *testing.T, client *http.Client, url, user, prop, ns, local string) string {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="` + ns + `"><D:prop>` + prop + `</D:prop></D:propfind>`
	req, _ := http.NewRequest("PROPFIND", url, strings.NewReader(body))
	req.SetBasicAuth(user, "secret")
	req.Header.Set("Depth", "0")
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 207 {
		t.Fatalf("PROPFIND %s: %d\n%s", url, resp.StatusCode, b)
	}
	// <...:local><...:href>X</...:href></...:local>
	s := string(b)
	i := strings.Index(s, local+">")
	if i < 0 {
		t.Fatalf("no %s in\n%s", local, s)
	}
	s = s[i:]
	start := strings.Index(s, "href>")
	end := strings.Index(s, "</")
	if start < 0 || end < 0 {
		t.Fatalf("no href in %s", s)
	}
	s = s[start+len("href>"):]
	return s[:strings.Index(s, "<")]
}

// askDNS returns the answer section for name and qtype from the server at addr.
func askDNS(t *testing.T, addr, name string, qtype uint16) []dns.RR {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	return r.Answer
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitTCP waits until something listens on the loopback port.
func waitTCP(t *testing.T, port int, log *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %d:\n%s", port, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMTASTSResolver has an independent MTA-STS implementation, Debian's
// postfix-mta-sts-resolver, fetch mailconf's policy the way a sending server does: the
// _mta-sts TXT record from mailconf's DNS, then the policy over HTTPS from
// mta-sts.<d>, whose address mailconf's DNS also gives, with the certificate checked
// against a test CA. The tool knows only port 53 and 443 and the system resolver, so
// the test runs it with mailconf in a network and mount namespace of their own
// (unshare, as root), with a resolv.conf naming mailconf.
func TestMTASTSResolver(t *testing.T) {
	query := needTool(t, "mta-sts-query", "postfix-mta-sts-resolver")
	unshare := needTool(t, "unshare", "util-linux")
	needTool(t, "ip", "iproute2")
	if os.Geteuid() != 0 {
		if os.Getenv("MAILCONF_REQUIRE_TOOLS") != "" {
			t.Fatal("needs root for unshare -n -m")
		}
		t.Skip("needs root for unshare -n -m")
	}
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, 8, filepath.Join(dir, "sts.pem"), filepath.Join(dir, "sts.key"), "mta-sts.example.test")
	writeConfig(t, dir, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})))
	writeConfig(t, dir, "resolv.conf", "nameserver 127.0.0.1\n")
	cfgText := `providers:
  - id: example.test
    display_name: Example
    domains: [example.test]
    incoming: [{type: imap, hostname: imap.example.test, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.example.test, port: 465, socket: SSL}]
    mta_sts:
      mode: enforce
      mx: [mx1.example.test, "*.mx.example.test"]
      max_age: 86400
      report_to: mailto:tlsrpt@example.test
dns:
  addresses: [127.0.0.1]
`
	cfg := writeConfig(t, dir, "mailconf.yaml", cfgText)
	cat, err := mailconf.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cat.Lookup(cat.Providers[0].Domains[0])
	id := p.MTASTS.ID()

	script := `set -e
ip link set lo up
mount --bind "$DIR/resolv.conf" /etc/resolv.conf
MAILCONF_RUN_MAIN=1 "$SELF" serve -config "$DIR/mailconf.yaml" -https 127.0.0.1:443 -tls-cert "$DIR/sts.pem" -tls-key "$DIR/sts.key" -http "" -dns 127.0.0.1:53 -admin "" 2>"$DIR/serve.log" &
pid=$!
for i in $(seq 100); do
  if (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null; then break; fi
  sleep 0.1
done
echo "== fetch"
SSL_CERT_FILE="$DIR/ca.pem" "$QUERY" -v debug example.test 2>&1 || true
echo "== known"
SSL_CERT_FILE="$DIR/ca.pem" "$QUERY" example.test "$ID" 2>&1 || true
echo "== untrusted"
"$QUERY" example.test 2>&1 || true
kill $pid
`
	cmd := exec.Command(unshare, "-n", "-m", "bash", "-c", script)
	cmd.Env = append(os.Environ(), "DIR="+dir, "SELF="+os.Args[0], "QUERY="+query, "ID="+id)
	out, err := cmd.CombinedOutput()
	serveLog, _ := os.ReadFile(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatalf("%v\n%s\nserve:\n%s", err, out, serveLog)
	}
	t.Logf("postfix-mta-sts-resolver:\n%s", out)
	parts := map[string]string{}
	for _, part := range strings.Split(string(out), "== ")[1:] {
		name, body, _ := strings.Cut(part, "\n")
		parts[name] = body
	}
	// (<STSFetchResult.VALID: 1>, ('ID', {'mx': [...], 'version': 'STSv1', 'mode': 'enforce', 'max_age': 86400}))
	fetch := parts["fetch"]
	for _, want := range []string{"STSFetchResult.VALID", "'" + id + "'", "'mode': 'enforce'", "'max_age': 86400", "'mx1.example.test'", "'*.mx.example.test'"} {
		if !strings.Contains(fetch, want) {
			t.Errorf("the resolver's result lacks %s:\n%s\nserve:\n%s", want, fetch, serveLog)
		}
	}
	if !strings.Contains(parts["known"], "STSFetchResult.NOT_CHANGED") {
		t.Errorf("with the current id: %s", parts["known"])
	}
	if !strings.Contains(parts["untrusted"], "STSFetchResult.FETCH_ERROR") {
		t.Errorf("without the test CA: %s", parts["untrusted"])
	}
}
