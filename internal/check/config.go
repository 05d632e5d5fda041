package check

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/dnssrv/zone"
	"github.com/mailconf/mailconf/internal/clientrules"
)

// provider is the configured provider of the domain, or nil.
func (c *checker) provider() *mailconf.Provider {
	if c.o.Config == nil {
		return nil
	}
	p, _ := c.o.Config.Lookup(c.o.Domain)
	return p
}

// configServer is a configured server as the documents write it.
func configServer(s mailconf.Server) clientrules.Server {
	return clientrules.Server{Type: string(s.Type), Hostname: s.Hostname.String(), Port: s.Port, Socket: string(s.Socket), Username: s.Username, Auth: string(s.Authentication.First())}
}

// configView is the configuration's settings for the domain, or nil.
func (c *checker) configView() *view {
	p := c.provider()
	if p == nil {
		return nil
	}
	v := &view{kind: "config", label: c.t("view.config"), step: "config.file"}
	for _, s := range p.Incoming {
		v.incoming = append(v.incoming, configServer(s))
	}
	for _, s := range p.Outgoing {
		v.outgoing = append(v.outgoing, configServer(s))
	}
	return v
}

// judgeConfig compares what is published with the configuration given with -config.
func (c *checker) judgeConfig() []Step {
	file := &result{id: "config.file", asked: "-config"}
	if c.o.Config == nil {
		file.add(issue{StatusSkip, "", c.t("found.config-not-asked"), ""})
		return []Step{file.step()}
	}
	file.asked = c.o.Config.Source
	p := c.provider()
	if p == nil {
		file.add(issue{StatusFail, "config-domain", c.t("found.config-domain", c.domain), c.t("fix.config-domain", c.domain)})
		return []Step{file.step()}
	}
	file.okFound = c.t("found.config-provider", p.ID.String(), c.domain)
	steps := []Step{file.step()}
	ref := c.configView()
	withUser := func(list []clientrules.Server) string {
		var out []string
		for _, s := range list {
			out = append(out, fmt.Sprintf("%s (%s, %s)", s, s.Username, s.Auth))
		}
		return strings.Join(out, ", ")
	}

	// Autoconfig: every server, in order, as written.
	ac := &result{id: "config.autoconfig", asked: c.t("asked.config-autoconfig")}
	want := withUser(append(slices.Clone(ref.incoming), ref.outgoing...))
	ac.okFound = want
	n := 0
	for _, v := range c.views {
		if v.kind != "autoconfig" {
			continue
		}
		n++
		if got := withUser(append(slices.Clone(v.incoming), v.outgoing...)); got != want {
			ac.add(c.configDiffers(v, got, want))
		}
	}
	if n == 0 {
		ac.add(issue{StatusSkip, "", c.t("found.config-nothing-published"), ""})
	}
	steps = append(steps, ac.step())

	// Outlook: every server, in order, with the login name for the address.
	ol := &result{id: "config.outlook", asked: c.t("asked.config-outlook")}
	var wantOL []string
	for s := range p.Servers() {
		wantOL = append(wantOL, fmt.Sprintf("%s (%s)", configServer(*s), s.LoginName(c.o.Address)))
	}
	ol.okFound = strings.Join(wantOL, ", ")
	n = 0
	for _, v := range c.views {
		if v.kind != "outlook" {
			continue
		}
		n++
		var got []string
		for _, s := range append(slices.Clone(v.incoming), v.outgoing...) {
			got = append(got, fmt.Sprintf("%s (%s)", s, s.Username))
		}
		if g := strings.Join(got, ", "); g != ol.okFound {
			ol.add(c.configDiffers(v, g, ol.okFound))
		}
	}
	if n == 0 {
		ol.add(issue{StatusSkip, "", c.t("found.config-nothing-published"), ""})
	}
	steps = append(steps, ol.step())

	steps = append(steps, c.configSRV(), c.configProfile(p), c.configNames())
	return steps
}

// configDiffers is the failure of a source that publishes other settings than the
// configuration.
func (c *checker) configDiffers(v *view, got, want string) issue {
	return issue{StatusFail, "config-differs", c.t("found.config-differs", v.label, got, want), c.t("fix.config-differs", v.step)}
}

// configSRV compares the SRV records with the ones mailconf builds from the
// configuration (dnssrv/zone).
func (c *checker) configSRV() Step {
	r := &result{id: "config.srv", asked: c.t("asked.config-srv")}
	set, err := zone.Build(c.o.Config)
	if err != nil {
		r.add(issue{StatusSkip, "", clean(err.Error(), 160), ""})
		return r.step()
	}
	var diffs, lines []string
	for _, svc := range append(slices.Clone(srvServices), "autodiscover") {
		owner := "_" + svc + "._tcp." + c.domain + "."
		var want, got []string
		for _, rr := range set.Lookup(owner, dns.TypeSRV).Answer {
			if s, ok := rr.(*dns.SRV); ok {
				want = append(want, srvText(s))
				lines = append(lines, strings.TrimSpace(s.String()))
			}
		}
		for _, s := range srvRecords(c.srv[svc]) {
			got = append(got, srvText(s))
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(want, got) {
			diffs = append(diffs, c.t("found.config-srv", "_"+svc, orNone(c, got), orNone(c, want)))
		}
	}
	if len(diffs) > 0 {
		r.add(issue{StatusFail, "config-differs", strings.Join(diffs, "; "), c.t("fix.config-srv")})
	} else {
		r.okFound = c.t("found.config-srv-ok", len(lines))
	}
	return r.step()
}

func orNone(c *checker, list []string) string {
	if len(list) == 0 {
		return c.t("found.none")
	}
	return strings.Join(list, ", ")
}

// configProfile compares the profile with the servers a device is given: the preferred
// incoming server and the first outgoing one.
func (c *checker) configProfile(p *mailconf.Provider) Step {
	r := &result{id: "config.profile", asked: c.t("asked.config-profile")}
	v := c.viewOf("profile")
	if v == nil {
		r.add(issue{StatusSkip, "", c.t("found.config-nothing-published"), ""})
		return r.step()
	}
	in, out := configServer(*p.PreferredIncoming()), configServer(p.Outgoing[0])
	r.okFound = serverList([]clientrules.Server{in, out})
	if !clientrules.SameEndpoint(in, v.incoming[0]) || !clientrules.SameEndpoint(out, v.outgoing[0]) {
		r.add(c.configDiffers(v, serverList(v.incoming, v.outgoing), r.okFound))
	}
	return r.step()
}

// configNames compares the addresses of autoconfig.<d> and autodiscover.<d> with
// dns.addresses, and the Autodiscover URL handed out with autodiscover.url.
func (c *checker) configNames() Step {
	r := &result{id: "config.names", asked: c.t("asked.config-names")}
	cfg := c.o.Config
	var diffs, oks []string
	if want := cfg.DNS.Addresses; len(want) > 0 {
		for _, h := range []string{c.autoconfigHost, c.autodiscoverHost} {
			got := c.names[h].addrs
			if !sameAddrs(got, want) {
				diffs = append(diffs, c.t("found.config-addresses", h, addrList(got), addrList(want)))
			}
		}
		oks = append(oks, addrList(want))
	}
	wantURL := "https://" + c.autodiscoverHost + "/autodiscover/autodiscover.xml"
	if cfg.Autodiscover.URL != nil {
		wantURL = cfg.Autodiscover.URL.String()
		if got := c.redirectURL(); got != wantURL {
			diffs = append(diffs, c.t("found.config-url", "redirect", orNone(c, nonEmpty(got)), wantURL))
		}
	}
	if got := c.jsonURL(); got != wantURL {
		diffs = append(diffs, c.t("found.config-url", "JSON Url", orNone(c, nonEmpty(got)), wantURL))
	}
	oks = append(oks, wantURL)
	if len(diffs) > 0 {
		r.add(issue{StatusFail, "config-differs", strings.Join(diffs, "; "), c.t("fix.config-names")})
	} else {
		r.okFound = strings.Join(oks, "; ")
	}
	return r.step()
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func sameAddrs(a, b []netip.Addr) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.SortFunc(x, netip.Addr.Compare)
	slices.SortFunc(y, netip.Addr.Compare)
	return slices.Equal(x, y)
}

func addrList(a []netip.Addr) string {
	var s []string
	for _, ip := range a {
		s = append(s, ip.String())
	}
	if len(s) == 0 {
		return "-"
	}
	return strings.Join(s, ", ")
}
