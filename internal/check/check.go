package check

import (
	"context"
	"crypto/x509"
	"net/url"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/clientrules"
)

// Options say what to check and how to reach it.
type Options struct {
	// Target is the command-line argument, for the report.
	Target string
	// Domain is the mail domain; Address the address the requests carry (for a
	// domain alone, postmaster@ the domain).
	Domain  mailconf.Domain
	Address mailconf.Address
	// Resolvers are the DNS servers asked (host:port), in order.
	Resolvers []string
	// ConnectTo rules send connections elsewhere, keeping Host and TLS server name.
	ConnectTo []ConnectTo
	// Roots are the certificate authorities trusted.
	Roots *x509.CertPool
	// StepTimeout bounds every request; the caller's context bounds the whole run.
	StepTimeout time.Duration
	// Connect opens every mail server port and completes the TLS handshake.
	Connect bool
	// Config, when set, is the configuration the published settings must match.
	Config *mailconf.Catalog
	// Lang is en or zh-CN.
	Lang string
	// Now is the clock certificates are judged by; nil is time.Now.
	Now func() time.Time
	// UserAgent is sent with every HTTP request.
	UserAgent string
}

// Run checks the domain and returns the report. Every request has the step timeout,
// and none outlives ctx.
func Run(ctx context.Context, o Options) *Report {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 10 * time.Second
	}
	if o.Lang != langZH {
		o.Lang = langEN
	}
	if o.UserAgent == "" {
		o.UserAgent = "mailconf-check"
	}
	c := &checker{o: o, ctx: ctx, net: newNetwork(o.Resolvers, o.ConnectTo, o.StepTimeout, o.UserAgent)}
	defer c.net.close()
	c.domain = o.Domain.String()
	c.address = o.Address.String()
	c.autoconfigHost = o.Domain.Autoconfig().String()
	c.autodiscoverHost = o.Domain.Autodiscover().String()
	r := &Report{Version: SchemaVersion, Target: o.Target, Domain: c.domain, Address: c.address, Lang: o.Lang, Started: o.Now().UTC()}

	c.gather(ctx)
	c.buildViews()
	if o.Connect {
		c.probeServers(ctx)
	}
	r.Families = []Family{
		c.family("autoconfig", c.judgeAutoconfig()),
		c.family("outlook", c.judgeOutlook()),
		c.family("srv", c.judgeSRV()),
		c.family("apple", c.judgeApple()),
		c.family("agreement", c.judgeAgreement()),
		c.family("tls", c.judgeTLS()),
		c.family("dns", c.judgeDNS()),
		c.family("servers", c.judgeServers()),
		c.family("config", c.judgeConfig()),
	}
	r.summarize()
	return r
}

// checker holds one run: what was asked, what came back, and the views derived.
type checker struct {
	o   Options
	ctx context.Context // the whole run's
	net *network

	domain, address                  string
	autoconfigHost, autodiscoverHost string

	autoconfig []*autoconfigAsk
	json       *response
	pox        map[string]*response // POSTs by URL
	redirect   *response
	srv        map[string]dnsAnswer // by service: imaps, imap, ..., autodiscover
	names      map[string]addresses // autoconfig.<d>, autodiscover.<d>
	mx         dnsAnswer
	profile    *response
	setup      *response
	setupURL   string
	profileURL string

	views  []*view
	ref    *view
	probes []*probe
}

// autoconfigAsk is one autoconfig URL and its answer.
type autoconfigAsk struct {
	id, url string
	https   bool
	address bool // the URL carries emailaddress
	kind    string
	resp    *response
}

// POX URLs Outlook posts to, in its order (MS-OXDSCLI §3.1.5): the domain, then
// autodiscover.<domain>.
func (c *checker) poxDomainURL() string {
	return "https://" + c.domain + "/autodiscover/autodiscover.xml"
}
func (c *checker) poxAutodiscoverURL() string {
	return "https://" + c.autodiscoverHost + "/autodiscover/autodiscover.xml"
}

// gather makes every request. Requests that do not depend on one another run at once;
// what an answer points to (the JSON's URL, a redirect, the SRV target) is asked next.
func (c *checker) gather(ctx context.Context) {
	q := url.QueryEscape(c.address)
	d, ac := c.domain, c.autoconfigHost
	add := func(id, u string, https, address bool, kind string) {
		c.autoconfig = append(c.autoconfig, &autoconfigAsk{id: "autoconfig." + id, url: u, https: https, address: address, kind: kind})
	}
	// Thunderbird's order (fetchConfig.sys.mjs fetchConfigFromISP): autoconfig.<d>,
	// then <d>/.well-known, HTTPS before HTTP; K-9 and KMail send no address.
	add("autoconfig-https", "https://"+ac+"/mail/config-v1.1.xml?emailaddress="+q, true, true, "autoconfig")
	add("autoconfig-https-noaddress", "https://"+ac+"/mail/config-v1.1.xml", true, false, "autoconfig")
	add("wellknown-https", "https://"+d+"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+q, true, true, "autoconfig")
	add("wellknown-https-noaddress", "https://"+d+"/.well-known/autoconfig/mail/config-v1.1.xml", true, false, "autoconfig")
	add("autoconfig-http", "http://"+ac+"/mail/config-v1.1.xml?emailaddress="+q, false, true, "autoconfig")
	add("autoconfig-http-noaddress", "http://"+ac+"/mail/config-v1.1.xml", false, false, "autoconfig")
	add("wellknown-http", "http://"+d+"/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress="+q, false, true, "autoconfig")
	add("wellknown-http-noaddress", "http://"+d+"/.well-known/autoconfig/mail/config-v1.1.xml", false, false, "autoconfig")
	// GNOME Online Accounts asks first (goamailclient.c); ISPDB clients ask by domain.
	add("mail-v1", "https://"+ac+"/.well-known/mail-v1.xml?emailaddress="+q, true, true, "mail-v1")
	add("ispdb", "https://"+ac+"/v1.1/"+d, true, false, "ispdb")

	pages := "https://" + ac
	if c.o.Config != nil && c.o.Config.HTTP.PublicURL != nil {
		pages = c.o.Config.HTTP.PublicURL.Scheme + "://" + c.o.Config.HTTP.PublicURL.Host
	}
	c.profileURL = pages + "/email.mobileconfig?emailaddress=" + q
	c.setupURL = pages + "/setup?emailaddress=" + q + "&lang=en"

	c.pox = map[string]*response{}
	c.srv = map[string]dnsAnswer{}
	c.names = map[string]addresses{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	do := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	for _, a := range c.autoconfig {
		do(func() { a.resp = c.net.fetch(ctx, "GET", a.url, "", "") })
	}
	do(func() {
		c.json = c.net.fetch(ctx, "GET", "https://"+c.autodiscoverHost+"/autodiscover/autodiscover.json/v1.0/"+url.PathEscape(c.address)+"?Protocol=AutodiscoverV1", "", "")
	})
	for _, u := range []string{c.poxDomainURL(), c.poxAutodiscoverURL()} {
		do(func() {
			r := c.postPOX(ctx, u)
			mu.Lock()
			c.pox[u] = r
			mu.Unlock()
		})
	}
	do(func() {
		c.redirect = c.net.fetch(ctx, "GET", "http://"+c.autodiscoverHost+"/autodiscover/autodiscover.xml", "", "")
	})
	for _, s := range []string{"imaps", "imap", "pop3s", "pop3", "submissions", "submission", "autodiscover"} {
		do(func() {
			a := c.net.exchange(ctx, "_"+s+"._tcp."+d, dns.TypeSRV)
			mu.Lock()
			c.srv[s] = a
			mu.Unlock()
		})
	}
	for _, h := range []string{c.autoconfigHost, c.autodiscoverHost} {
		do(func() {
			a := c.net.lookup(ctx, h)
			mu.Lock()
			c.names[h] = a
			mu.Unlock()
		})
	}
	do(func() { c.mx = c.net.exchange(ctx, d, dns.TypeMX) })
	do(func() { c.profile = c.net.fetch(ctx, "GET", c.profileURL, "", "") })
	do(func() { c.setup = c.net.fetch(ctx, "GET", c.setupURL, "", "") })
	wg.Wait()

	// What the answers point to.
	var follow []string
	for _, u := range c.followURLs() {
		if _, asked := c.pox[u]; !asked {
			c.pox[u] = nil
			follow = append(follow, u)
		}
	}
	for _, u := range follow {
		do(func() {
			r := c.postPOX(ctx, u)
			mu.Lock()
			c.pox[u] = r
			mu.Unlock()
		})
	}
	wg.Wait()
}

// postPOX posts Outlook's request for the address.
func (c *checker) postPOX(ctx context.Context, u string) *response {
	return c.net.fetch(ctx, "POST", u, "text/xml; charset=utf-8", clientrules.OutlookRequest(c.address))
}
