package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// hosterConfig is a hoster: every customer domain has its own imap./smtp. names, and
// the domains come from a file a panel writes.
func hosterConfig(domainsFile string) string {
	return `providers:
  - id: hoster.example
    display_name: Hoster Mail
    domains: [hoster.example]
    domains_from: [{file: ` + domainsFile + `}]
    domains_refresh: 1s
    incoming:
      - {type: imap, hostname: "imap.%EMAILDOMAIN%", port: 993, socket: SSL}
    outgoing:
      - {hostname: "smtp.%EMAILDOMAIN%", port: 465, socket: SSL}
`
}

func httpGet(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func httpPost(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// checkServed checks that domain d is served with its own host names by every
// protocol: autoconfig, Autodiscover, SRV, the profile and the setup page.
func checkServed(t *testing.T, d *testDaemon, domain string) {
	t.Helper()
	base := "http://" + d.addr["http"]
	imap := "imap." + domain
	code, body := httpGet(t, base+"/mail/config-v1.1.xml", "autoconfig."+domain)
	if code != 200 || !strings.Contains(body, "<hostname>"+imap+"</hostname>") || !strings.Contains(body, "<domain>"+domain+"</domain>") || strings.Contains(body, "%EMAILDOMAIN%") {
		t.Errorf("autoconfig for %s: %d\n%s", domain, code, body)
	}
	pox := httpPost(t, base+"/autodiscover/autodiscover.xml", `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>a@`+domain+`</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`)
	if !strings.Contains(pox, "<Server>"+imap+"</Server>") || !strings.Contains(pox, "<Server>smtp."+domain+"</Server>") {
		t.Errorf("Autodiscover for %s:\n%s", domain, pox)
	}
	q := new(dns.Msg)
	q.SetQuestion("_imaps._tcp."+domain+".", dns.TypeSRV)
	r, err := dns.Exchange(q, d.addr["dns"])
	if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.SRV).Target != imap+"." {
		t.Errorf("SRV for %s: %v %v", domain, r, err)
	}
	if _, body := httpGet(t, base+"/email.mobileconfig?emailaddress=a%40"+domain, ""); !strings.Contains(body, "<string>"+imap+"</string>") {
		t.Errorf("profile for %s:\n%s", domain, body)
	}
	if _, body := httpGet(t, base+"/setup?emailaddress=a%40"+domain+"&lang=en", ""); !strings.Contains(body, `data-label="Server">`+imap+`</td>`) {
		t.Errorf("setup page for %s lacks %s", domain, imap)
	}
}

// TestDomainsFromFileEveryProtocol serves a hoster whose domains come from a file:
// every protocol answers each domain with its own host names; an edit appears after
// the refresh; a deleted file or a bad line keeps the last list and shows in /readyz.
func TestDomainsFromFileEveryProtocol(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "domains.txt")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(list+".tmp", []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(list+".tmp", list); err != nil {
			t.Fatal(err)
		}
	}
	write("alpha.example\nbeta.example\n")
	d := startServe(t, "-config", writeConfig(t, dir, "c.yaml", hosterConfig(list)))
	for _, dom := range []string{"hoster.example", "alpha.example", "beta.example"} {
		checkServed(t, d, dom)
	}
	if code, _ := httpGet(t, "http://"+d.addr["admin"]+"/readyz", ""); code != 200 {
		t.Errorf("/readyz %d with every source read", code)
	}

	write("alpha.example\ngamma.example\n")
	waitFor(t, 10*time.Second, "gamma.example served", func() bool {
		code, _ := httpGet(t, "http://"+d.addr["http"]+"/v1.1/gamma.example", "")
		return code == 200
	})
	checkServed(t, d, "gamma.example")
	if code, _ := httpGet(t, "http://"+d.addr["http"]+"/v1.1/beta.example", ""); code != 404 {
		t.Errorf("beta.example, removed from the list, still served: %d", code)
	}

	errorsCounted := func() float64 {
		return sample(scrape(t, d.addr["admin"]), "mailconf_domain_source_errors_total", map[string]string{"provider": "hoster.example", "source": "file " + list})
	}
	for i, broken := range []func(){func() { write("alpha.example\nnot a domain\n") }, func() { os.Remove(list) }} {
		broken()
		waitFor(t, 10*time.Second, "the failure counted", func() bool { return errorsCounted() >= float64(i+1) })
		if _, body := httpGet(t, "http://"+d.addr["admin"]+"/readyz", ""); !strings.Contains(body, "failing, serving the 2 domains") {
			t.Errorf("/readyz does not show the failing source:\n%s", body)
		}
		checkServed(t, d, "gamma.example")
	}
	if !strings.Contains(d.logs.String(), `domains.txt:2: \"not a domain\"`) {
		t.Errorf("the bad line is not in the log with its number and value")
	}
}

// TestISPDBServed: a provider written in the ISPDB format is served over the other
// protocols too: Autodiscover, SRV, the profile and the setup page.
func TestISPDBServed(t *testing.T) {
	dir := t.TempDir()
	abs, err := filepath.Abs("../../testdata/ispdb")
	if err != nil {
		t.Fatal(err)
	}
	d := startServe(t, "-config", writeConfig(t, dir, "c.yaml", "providers:\n  - ispdb: "+abs+"\n"))
	base := "http://" + d.addr["http"]
	pox := httpPost(t, base+"/autodiscover/autodiscover.xml", `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>bob@starttls.example</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`)
	if !strings.Contains(pox, "<Server>mail.starttls.example</Server>") || !strings.Contains(pox, "<Port>143</Port>") || !strings.Contains(pox, "<Encryption>TLS</Encryption>") || !strings.Contains(pox, "<LoginName>bob</LoginName>") {
		t.Errorf("Autodiscover:\n%s", pox)
	}
	q := new(dns.Msg)
	q.SetQuestion("_imap._tcp.starttls.example.", dns.TypeSRV)
	if r, err := dns.Exchange(q, d.addr["dns"]); err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.SRV).Port != 143 {
		t.Errorf("SRV: %v %v", r, err)
	}
	if _, body := httpGet(t, base+"/email.mobileconfig?emailaddress=bob%40starttls.example", ""); !strings.Contains(body, "<string>mail.starttls.example</string>") || !strings.Contains(body, "EmailAuthCRAMMD5") {
		t.Errorf("profile:\n%s", body)
	}
	if _, body := httpGet(t, base+"/setup/several.example?lang=en", ""); !strings.Contains(body, "Allow mail apps in the settings first.") || !strings.Contains(body, "https://several.example/settings/mail-apps") {
		t.Errorf("setup page lacks the ISPDB instructions")
	}
	if !strings.Contains(d.logs.String(), "is not modelled by mailconf") {
		t.Errorf("the warnings about what is not modelled are not logged")
	}
}
