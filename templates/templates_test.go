package templates

import (
	"fmt"
	"image"
	"image/color"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/net/html"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// testYAML is QQ Mail and a provider with STARTTLS, a local-part username, Chinese
// first, an IDN domain and a display name that needs escaping.
const testYAML = `
providers:
  - builtin: qq.com
  - id: example.net
    display_name:
      zh-CN: 示例<邮箱>
      en: Example & <Mail>
    short_name: Example
    domains: [example.net, bücher.example]
    incoming:
      - {type: imap, hostname: imap.example.net, port: 143, socket: STARTTLS, username: "%EMAILLOCALPART%"}
    outgoing:
      - {hostname: smtp.example.net, port: 587, socket: STARTTLS, username: "%EMAILLOCALPART%"}
    calendars:
      - url: "https://dav.example.net/cal&co/"
    contacts:
      - {url: "https://dav.example.net/dav/", username: "%EMAILDOMAIN%"}
`

var links = Links{Autoconfig: "/mail/config-v1.1.xml", ISPDB: "/v1.1/", AutodiscoverJSON: "/autodiscover/autodiscover.json", Profile: "/email.mobileconfig"}

func startServer(t testing.TB) *httptest.Server {
	t.Helper()
	return serveConfig(t, "test.yaml", testYAML)
}

// serveConfig serves the pages of the configuration yaml on a loopback test server.
func serveConfig(t testing.TB, name, yaml string) *httptest.Server {
	t.Helper()
	cat, err := mailconf.Parse(name, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cat, links)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpserver.New(httpserver.Options{}, h))
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func get(t *testing.T, srv *httptest.Server, method, target string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Send the path and query exactly as written.
	path, query, _ := strings.Cut(target, "?")
	req.URL.Opaque, req.URL.RawQuery = path, query
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if method == http.MethodGet {
		if r.doc, err = html.Parse(strings.NewReader(r.body)); err != nil {
			t.Fatalf("%s: not HTML: %v", target, err)
		}
	}
	return r
}

// find returns the elements named tag with the attribute key=val ("" matches any).
func find(n *html.Node, tag, key, val string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag && (key == "" || attr(n, key) == val) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// serverRows reads the server table: protocol, host, port, security, username,
// password per row.
func serverRows(t *testing.T, doc *html.Node) [][]string {
	t.Helper()
	return tableRows(t, doc, "servers")
}

// tableRows reads the cells of the table with the id, the header row left out; nil
// when there is no such table.
func tableRows(t *testing.T, doc *html.Node, id string) [][]string {
	t.Helper()
	tables := find(doc, "table", "id", id)
	if len(tables) > 1 {
		t.Fatalf("%d %s tables", len(tables), id)
	}
	if len(tables) == 0 {
		return nil
	}
	var rows [][]string
	for _, tr := range find(tables[0], "tr", "", "") {
		if len(find(tr, "td", "", "")) == 0 {
			continue // the header row
		}
		var cells []string
		for c := tr.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode {
				cells = append(cells, strings.TrimSpace(text(c)))
			}
		}
		rows = append(rows, cells)
	}
	return rows
}

func TestSetupPage(t *testing.T) {
	srv := startServer(t)
	for _, tc := range []struct {
		name, target string
		header       []string
		lang         string
		rows, dav    [][]string
		contains     []string
	}{
		{
			name: "QQ, English by default", target: "/setup?emailaddress=alice%40qq.com", lang: "en",
			rows: [][]string{
				{"IMAP (incoming)", "imap.qq.com", "993", "SSL/TLS", "alice@qq.com", "the authorization code (授权码) from QQ Mail's settings, not your QQ password"},
				{"POP3 (incoming)", "pop.qq.com", "995", "SSL/TLS", "alice@qq.com", "the authorization code (授权码) from QQ Mail's settings, not your QQ password"},
				{"SMTP (outgoing)", "smtp.qq.com", "465", "SSL/TLS", "alice@qq.com", "the authorization code (授权码) from QQ Mail's settings, not your QQ password"},
			},
			contains: []string{"Set up QQ Mail", "Settings for alice@qq.com", "Thunderbird", "Outlook (classic, Windows)", "Apple Mail", "Gmail app", "Thunderbird for Android", "Foxmail", "Port 995 is POP3, not IMAP.", "https://mail.qq.com/"},
		},
		{
			name: "QQ in Chinese by Accept-Language", target: "/setup?emailaddress=alice%40qq.com", header: []string{"Accept-Language", "zh-CN,zh;q=0.9,en;q=0.5"}, lang: "zh-CN",
			rows: [][]string{
				{"IMAP (收信)", "imap.qq.com", "993", "SSL/TLS", "alice@qq.com", "授权码（在QQ邮箱的设置中生成），不是QQ密码"},
				{"POP3 (收信)", "pop.qq.com", "995", "SSL/TLS", "alice@qq.com", "授权码（在QQ邮箱的设置中生成），不是QQ密码"},
				{"SMTP (发信)", "smtp.qq.com", "465", "SSL/TLS", "alice@qq.com", "授权码（在QQ邮箱的设置中生成），不是QQ密码"},
			},
			contains: []string{"设置QQ邮箱", "alice@qq.com 的设置", "995 是 POP3 的端口"},
		},
		{
			name: "lang wins over Accept-Language", target: "/setup?emailaddress=alice%40qq.com&lang=en", header: []string{"Accept-Language", "zh-CN"}, lang: "en",
			contains: []string{"Set up QQ Mail"},
		},
		{
			name: "an unknown lang falls back", target: "/setup?emailaddress=alice%40qq.com&lang=fr", lang: "en",
			contains: []string{"Set up QQ Mail"},
		},
		{
			name: "the provider's first language", target: "/setup?emailaddress=Bob.Smith%40example.net", lang: "zh-CN",
			rows: [][]string{
				{"IMAP (收信)", "imap.example.net", "143", "STARTTLS", "Bob.Smith", "邮箱账户的密码"},
				{"SMTP (发信)", "smtp.example.net", "587", "STARTTLS", "Bob.Smith", "邮箱账户的密码"},
			},
			dav: [][]string{
				{"日历（CalDAV）", "https://dav.example.net/cal&co/", "Bob.Smith@example.net", "邮箱账户的密码"},
				{"通讯录（CardDAV）", "https://dav.example.net/dav/", "example.net", "邮箱账户的密码"},
			},
			contains: []string{"设置示例<邮箱>", "日历和通讯录"},
		},
		{
			name: "by domain, IDN", target: "/setup/xn--bcher-kva.example?lang=en", lang: "en",
			rows: [][]string{
				{"IMAP (incoming)", "imap.example.net", "143", "STARTTLS", "the part of your address before the @", "the password of your email account"},
				{"SMTP (outgoing)", "smtp.example.net", "587", "STARTTLS", "the part of your address before the @", "the password of your email account"},
			},
			dav: [][]string{
				{"Calendar (CalDAV)", "https://dav.example.net/cal&co/", "your full email address", "the password of your email account"},
				{"Contacts (CardDAV)", "https://dav.example.net/dav/", "the part of your address after the @", "the password of your email account"},
			},
			contains: []string{"Settings for addresses at bücher.example", "Set up Example & <Mail>"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, srv, "GET", tc.target, tc.header...)
			if r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			checkPageHeaders(t, r)
			if got := attr(find(r.doc, "html", "", "")[0], "lang"); got != tc.lang {
				t.Errorf("lang %q, want %q", got, tc.lang)
			}
			if tc.rows != nil {
				if got := serverRows(t, r.doc); !equalRows(got, tc.rows) {
					t.Errorf("server table %q, want %q", got, tc.rows)
				}
				if got := tableRows(t, r.doc, "dav"); !equalRows(got, tc.dav) {
					t.Errorf("calendars and contacts %q, want %q", got, tc.dav)
				}
			}
			page := text(r.doc)
			for _, want := range tc.contains {
				if !strings.Contains(page, want) && !strings.Contains(r.body, want) {
					t.Errorf("page does not say %q", want)
				}
			}
			// The other language is one click away.
			var switches []string
			for _, a := range find(r.doc, "a", "", "") {
				if attr(a, "hreflang") != "" {
					switches = append(switches, attr(a, "hreflang"))
				}
			}
			if len(switches) != 1 || switches[0] == tc.lang {
				t.Errorf("language switch %v", switches)
			}
		})
	}
}

func equalRows(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "|") != strings.Join(b[i], "|") {
			return false
		}
	}
	return true
}

// checkPageHeaders: HTML, a policy that allows nothing from elsewhere, no referrer.
func checkPageHeaders(t *testing.T, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "text/html; charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if r.header.Get("Referrer-Policy") != "no-referrer" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", r.header)
	}
	if r.doc == nil {
		return
	}
	// No script and nothing loaded from elsewhere: no fonts, scripts, CDNs.
	if n := len(find(r.doc, "script", "", "")) + len(find(r.doc, "link", "", "")) + len(find(r.doc, "img", "", "")) + len(find(r.doc, "iframe", "", "")); n > 0 {
		t.Errorf("%d script, link, img or iframe elements", n)
	}
}

func TestIndexAndErrorPages(t *testing.T) {
	srv := startServer(t)
	r := get(t, srv, "GET", "/", "Accept-Language", "zh")
	if r.status != 200 || attr(find(r.doc, "html", "", "")[0], "lang") != "zh-CN" {
		t.Fatalf("index: %d", r.status)
	}
	checkPageHeaders(t, r)
	forms := find(r.doc, "form", "action", "/setup")
	if len(forms) != 1 || attr(forms[0], "method") != "get" || len(find(forms[0], "input", "name", "emailaddress")) != 1 {
		t.Errorf("index has no GET form for an address")
	}
	for _, want := range []string{"QQ邮箱", "qq.com", "foxmail.com", "bücher.example"} {
		if !strings.Contains(text(r.doc), want) {
			t.Errorf("index does not list %q", want)
		}
	}
	for _, tc := range []struct {
		target, want string
		status       int
	}{
		{"/setup?emailaddress=alice%40example.org&lang=en", "No mail settings are published here for example.org.", 404},
		{"/setup/example.org?lang=en", "No mail settings are published here for example.org.", 404},
		{"/setup?emailaddress=not-an-address&lang=en", "That is not an email address.", 400},
		{"/setup?lang=en", "That is not an email address.", 400},
		{"/setup/not_a_domain!?lang=en", "That is not an email address.", 400},
		{"/setup?emailaddress=nobody%40nowhere&lang=zh-CN", "这不是一个邮箱地址", 400},
	} {
		r := get(t, srv, "GET", tc.target)
		if r.status != tc.status || !strings.Contains(text(r.doc), tc.want) {
			t.Errorf("%s: %d %q, want %d %q", tc.target, r.status, text(r.doc), tc.status, tc.want)
		}
		checkPageHeaders(t, r)
		if len(find(r.doc, "form", "action", "/setup")) != 1 {
			t.Errorf("%s: no form to try again", tc.target)
		}
	}
	if r := get(t, srv, "HEAD", "/setup?emailaddress=alice%40qq.com"); r.status != 200 || r.body != "" || r.header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
}

// TestHostileInput: nothing from the request reaches the page unescaped: not the
// address (a quoted local part may hold markup), the Host, lang or the path.
func TestHostileInput(t *testing.T) {
	srv := startServer(t)
	evil := `"<script>alert(1)</script>'"@qq.com`
	for _, tc := range []struct {
		target string
		header []string
	}{
		{"/setup?emailaddress=" + url.QueryEscape(evil), nil},
		{"/setup?emailaddress=" + url.QueryEscape(`"a\"><svg onload=alert(1)>"@qq.com`), nil},
		{"/setup?emailaddress=alice%40qq.com&lang=%22%3E%3Cscript%3Ealert(1)%3C/script%3E", nil},
		{"/setup?emailaddress=alice%40qq.com", []string{"Host", `evil.example"><script>alert(1)</script>`}},
		{"/setup?emailaddress=alice%40qq.com", []string{"Host", "evil.example:1234/<script>"}},
		{"/setup/%3Cscript%3Ealert(1)%3C%2Fscript%3E", nil},
		{"/setup/qq.com%22%3E%3Cscript%3E", nil},
		{"/%3Cscript%3E", nil},
	} {
		r := get(t, srv, "GET", tc.target, tc.header...)
		if strings.Contains(strings.ToLower(r.body), "<script") || strings.Contains(r.body, "<svg onload") || strings.Contains(r.body, "alert(1)</") {
			t.Errorf("%s %v: markup reflected:\n%s", tc.target, tc.header, r.body)
		}
		if r.doc != nil && len(find(r.doc, "script", "", "")) > 0 {
			t.Errorf("%s: a script element", tc.target)
		}
	}
	// The hostile address is shown, escaped, as text.
	r := get(t, srv, "GET", "/setup?emailaddress="+url.QueryEscape(evil))
	if r.status != 200 || !strings.Contains(text(r.doc), evil) {
		t.Errorf("the quoted address is not shown as text: %d", r.status)
	}
}

// TestQRCode: the QR code on the page opens the profile for the address, on the host
// the page was asked on (or the configured public URL).
func TestQRCode(t *testing.T) {
	srv := startServer(t)
	r := get(t, srv, "GET", "/setup?emailaddress=a%2Bb%40qq.com", "Host", "autoconfig.qq.com:8080")
	svgs := regexp.MustCompile(`<svg class="qr".*?</svg>`).FindAllString(r.body, -1)
	if len(svgs) != 1 {
		t.Fatalf("%d QR codes", len(svgs))
	}
	if got, want := decodeQR(t, svgs[0]), "http://autoconfig.qq.com:8080/email.mobileconfig?emailaddress=a%2Bb%40qq.com"; got != want {
		t.Errorf("QR code says %q, want %q", got, want)
	}
	// A Host that is not a name gets no QR code rather than a broken one.
	r = get(t, srv, "GET", "/setup?emailaddress=a%40qq.com", "Host", "bad_host!")
	if strings.Contains(r.body, `class="qr"`) {
		t.Error("QR code for an unusable Host")
	}
}

// TestQRSVG draws texts from a few bytes to well past any profile URL (2000 bytes,
// version 34 or so) and reads each back; text past a QR code's capacity is an error,
// not a broken code.
func TestQRSVG(t *testing.T) {
	long := "http://autoconfig.example.com/email.mobileconfig?emailaddress=" + strings.Repeat("a", 64) + "%40" + strings.Repeat("b", 250)
	for _, text := range []string{"http://a.b/", "https://autoconfig.qq.com/email.mobileconfig?emailaddress=a%40qq.com", long, strings.Repeat("x", 2000)} {
		svg, err := qrSVG(text, "title")
		if err != nil {
			t.Fatalf("%d bytes: %v", len(text), err)
		}
		if got := decodeQR(t, svg); got != text {
			t.Errorf("%d bytes: read back %q", len(text), got)
		}
	}
	if _, err := qrSVG(strings.Repeat("x", 3000), "title"); err == nil {
		t.Error("3000 bytes made a QR code")
	}
}

// decodeQR reads a QR code drawn by qrSVG back into its text with an independent
// decoder (ZXing's Go port).
func decodeQR(t *testing.T, svg string) string {
	t.Helper()
	n, err := strconv.Atoi(regexp.MustCompile(`viewBox="0 0 (\d+) `).FindStringSubmatch(svg)[1])
	if err != nil {
		t.Fatal(err)
	}
	const scale = 4
	img := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, m := range regexp.MustCompile(`M(\d+) (\d+)h(\d+)v1h-(\d+)z`).FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		run, _ := strconv.Atoi(m[3])
		for dy := range scale {
			for dx := range run * scale {
				img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
			}
		}
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("QR code does not decode: %v", err)
	}
	return res.GetText()
}

// TestChromium renders the setup page in headless Chromium, in both languages, and
// checks the DOM it built holds the server table and that it logged no error (a
// blocked resource, a policy violation). It runs where Chromium is installed (CI
// installs Debian's chromium and sets MAILCONF_REQUIRE_TOOLS).
func TestChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("MAILCONF_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium not installed")
		}
		t.Skip("chromium not installed")
	}
	srv := startServer(t)
	for _, tc := range []struct{ lang, want string }{{"en", "imap.qq.com"}, {"zh-CN", "收信"}} {
		t.Run(tc.lang, func(t *testing.T) {
			cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
				"--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir="+t.TempDir(),
				"--enable-logging=stderr", "--v=0", "--dump-dom", srv.URL+"/setup?emailaddress=alice%40qq.com&lang="+tc.lang)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("chromium: %v\n%s", err, stderr.String())
			}
			doc, err := html.Parse(strings.NewReader(string(out)))
			if err != nil {
				t.Fatal(err)
			}
			rows := serverRows(t, doc)
			if len(rows) != 3 || rows[0][1] != "imap.qq.com" || rows[0][2] != "993" || !strings.Contains(string(out), tc.want) {
				t.Errorf("rendered server table %q", rows)
			}
			for _, line := range strings.Split(stderr.String(), "\n") {
				if strings.Contains(line, "CONSOLE") || strings.Contains(line, "Refused to") {
					t.Errorf("console: %s", line)
				}
			}
		})
	}
}

// BenchmarkPages serves the setup page (with its QR code), the page of a domain and
// the index through the HTTP stack.
func BenchmarkPages(b *testing.B) {
	cat, err := mailconf.Parse("test.yaml", []byte(testYAML))
	if err != nil {
		b.Fatal(err)
	}
	h, err := New(cat, links)
	if err != nil {
		b.Fatal(err)
	}
	stack := httpserver.New(httpserver.Options{}, h)
	for _, bc := range []struct{ name, target string }{
		{"setup-address", "/setup?emailaddress=alice%40qq.com"},
		{"setup-domain", "/setup/qq.com"},
		{"index", "/"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", bc.target, nil)
			req.Host = "autoconfig.qq.com"
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				stack.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// TestIndexLimit: with more providers than the index lists, it names how many more
// there are and points to the address form.
func TestIndexLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("providers:\n")
	for i := range indexProviders + 50 {
		fmt.Fprintf(&b, "  - {id: p%d.example, display_name: P%d, domains: [p%d.example], incoming: [{type: imap, hostname: imap.p%d.example, port: 993, socket: SSL}], outgoing: [{hostname: smtp.p%d.example, port: 465, socket: SSL}]}\n", i, i, i, i, i)
	}
	srv := serveConfig(t, "many.yaml", b.String())
	r := get(t, srv, "GET", "/?lang=en")
	items := find(r.doc, "li", "", "")
	listed := 0
	for _, li := range items {
		if strings.Contains(text(li), "Addresses at") {
			listed++
		}
	}
	if listed != indexProviders || !strings.Contains(text(r.doc), "And 50 more mail services") {
		t.Errorf("%d providers listed; page says %q", listed, text(r.doc))
	}
}
