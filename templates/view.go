package templates

import (
	"fmt"
	"html/template"
	"strconv"

	"github.com/mailconf/mailconf"
)

// base is what every page's layout reads.
type base struct {
	Lang   string
	T      *uiText
	Title  string
	CSS    template.CSS
	Switch []langLink
}

type langLink struct {
	Lang, Name, Href string
	Current          bool
}

type link struct{ Name, Href string }

func (h *Handler) base(lang, title string, href func(lang string) string) base {
	b := base{Lang: lang, T: ui[lang], Title: title, CSS: h.css}
	for _, l := range Languages {
		b.Switch = append(b.Switch, langLink{Lang: l, Name: ui[l].LangName, Href: href(l), Current: l == lang})
	}
	return b
}

type indexView struct {
	base
	Providers     []providerLink
	MoreProviders string // how many more providers there are than the page lists
}

// indexProviders is the most providers the index page lists: a hoster's thousands are
// found by address instead, and the page stays small.
const indexProviders = 200

type providerLink struct {
	Name, Href string
	Domains    []link
	More       string // how many more domains it serves, from its sources
}

func (h *Handler) indexView(cat *mailconf.Catalog, lang string) indexView {
	v := indexView{base: h.base(lang, ui[lang].SiteTitle, func(l string) string { return PathIndex + "?lang=" + l })}
	if n := len(cat.Providers) - indexProviders; n > 0 {
		v.MoreProviders = fmt.Sprintf(ui[lang].IndexMoreProviders, n)
	}
	for _, p := range cat.Providers[:min(len(cat.Providers), indexProviders)] {
		pl := providerLink{Name: p.DisplayName.For(lang), Href: domainHref(p.PrimaryDomain(), lang)}
		for _, d := range p.Domains {
			pl.Domains = append(pl.Domains, link{Name: d.Unicode(), Href: domainHref(d, lang)})
		}
		if n := len(cat.SourcedDomains(p)); n > 0 {
			pl.More = fmt.Sprintf(ui[lang].IndexMore, n)
		}
		v.Providers = append(v.Providers, pl)
	}
	return v
}

func domainHref(d mailconf.Domain, lang string) string {
	return PathSetup + "/" + d.String() + "?lang=" + lang
}

type errorView struct {
	base
	Message string
}

func (h *Handler) errorView(lang, title, message string) errorView {
	return errorView{base: h.base(lang, title, func(l string) string { return PathIndex + "?lang=" + l }), Message: message}
}

type setupView struct {
	base
	For           string
	Instructions  string
	EnableURL     string
	Documentation []link
	Servers       []serverRow
	DAV           []davRow
	HasAddress    bool
	ProfileHref   string
	QR            string
	Clients       []client
	Trouble       trouble
	Raw           []link
}

type serverRow struct {
	Protocol, Direction, Host, Port, Security, Username, Password string
}

type davRow struct {
	Service, URL, Username, Password string
}

type client struct {
	Name  string
	Parts []clientPart
}

type clientPart struct {
	Title string
	Steps []string
}

type trouble struct {
	Password string
	Mistakes []string
}

// setupView is the setup page of a provider in one language, for one address (its parts
// as slot markers) or for any address of a domain.
func (h *Handler) setupView(cat *mailconf.Catalog, p *mailconf.Provider, lang string, withAddress bool) setupView {
	t := ui[lang]
	name := p.DisplayName.For(lang)
	var href func(string) string
	v := setupView{HasAddress: withAddress}
	if withAddress {
		href = func(l string) string {
			return PathSetup + "?emailaddress=" + markers[slotAddressQuery] + "&lang=" + l
		}
		v.For = fmt.Sprintf(t.SetupFor, markers[slotAddress])
		v.ProfileHref = h.links.Profile + "?emailaddress=" + markers[slotAddressQuery] + "&lang=" + lang
		v.QR = markers[slotQR]
	} else {
		href = func(l string) string { return PathSetup + "/" + markers[slotDomainASCII] + "?lang=" + l }
		v.For = fmt.Sprintf(t.SetupForDomain, markers[slotDomain])
	}
	v.base = h.base(lang, fmt.Sprintf(t.SetupTitle, name), href)
	v.Instructions = p.Instructions.For(lang)
	if p.EnableURL != nil {
		v.EnableURL = p.EnableURL.String()
	}
	for _, d := range p.Documentation {
		v.Documentation = append(v.Documentation, link{Name: d.Description.For(lang), Href: d.URL.String()})
	}
	var login func(name string) string
	password := p.PasswordHint.For(lang)
	if password == "" {
		password = t.PasswordDefault
	}
	username := func(s *mailconf.Server) string { return login(s.Username) }
	login = func(name string) string {
		switch name {
		case mailconf.PlaceholderAddress:
			if withAddress {
				return markers[slotAddress]
			}
			return t.UserAddress
		case mailconf.PlaceholderLocalPart:
			if withAddress {
				return markers[slotLocalPart]
			}
			return t.UserLocal
		case mailconf.PlaceholderDomain:
			if withAddress {
				return markers[slotDomainASCII]
			}
			return t.UserDomain
		}
		return name
	}
	security := func(s *mailconf.Server) string {
		switch s.Socket {
		case mailconf.SocketSSL:
			return t.SecSSL
		case mailconf.SocketSTARTTLS:
			return t.SecSTARTTLS
		}
		return t.SecPlain
	}
	protocol := map[mailconf.ServerType]string{mailconf.TypeIMAP: "IMAP", mailconf.TypePOP3: "POP3", mailconf.TypeSMTP: "SMTP"}
	row := func(s *mailconf.Server, dir string) serverRow {
		return serverRow{Protocol: protocol[s.Type], Direction: dir, Host: host(s), Port: strconv.Itoa(s.Port),
			Security: security(s), Username: username(s), Password: password}
	}
	for i := range p.Incoming {
		v.Servers = append(v.Servers, row(&p.Incoming[i], t.Incoming))
	}
	for i := range p.Outgoing {
		v.Servers = append(v.Servers, row(&p.Outgoing[i], t.Outgoing))
	}

	for _, k := range []struct {
		name string
		list []mailconf.DAVService
	}{{t.DAVCalendar, p.Calendars}, {t.DAVContacts, p.Contacts}} {
		if s := mailconf.PreferredDAV(k.list); s != nil {
			v.DAV = append(v.DAV, davRow{Service: k.name, URL: s.URL.String(), Username: login(s.Username), Password: password})
		}
	}

	// The servers an app that takes one of each uses, for the step-by-step lists.
	in, out := p.PreferredIncoming(), &p.Outgoing[0]
	manual := []string{
		fmt.Sprintf(t.ManualIncoming, protocol[in.Type], host(in), strconv.Itoa(in.Port), security(in), username(in)),
		fmt.Sprintf(t.ManualOutgoing, protocol[out.Type], host(out), strconv.Itoa(out.Port), security(out), username(out)),
	}
	steps := func(list []string) []string {
		var out []string
		for _, s := range list {
			if takesPassword(s) {
				s = fmt.Sprintf(s, password)
			}
			out = append(out, s)
		}
		return append(out, manual...)
	}
	one := func(name string, list []string) client {
		return client{Name: name, Parts: []clientPart{{Steps: steps(list)}}}
	}
	apple := client{Name: t.AppleMail, Parts: []clientPart{{Title: t.AppleManual, Steps: steps(t.StepsAppleManual)}}}
	if withAddress {
		profile := clientPart{Title: t.AppleProfile}
		for _, s := range t.StepsAppleProfile {
			if takesPassword(s) {
				s = fmt.Sprintf(s, password)
			}
			profile.Steps = append(profile.Steps, s)
		}
		apple.Parts = append([]clientPart{profile}, apple.Parts...)
	}
	v.Clients = []client{
		one(t.Thunderbird, t.StepsThunderbird),
		one(t.OutlookNew, t.StepsOutlookNew),
		one(t.OutlookClassic, t.StepsOutlookClassic),
		apple,
		{Name: t.Android, Parts: []clientPart{
			{Title: t.GmailApp, Steps: steps(t.StepsGmail)},
			{Title: t.ThunderbirdAndroid, Steps: steps(t.StepsThunderbirdAndroid)},
		}},
		one(t.Foxmail, t.StepsFoxmail),
	}

	v.Trouble = trouble{Password: fmt.Sprintf(t.TroublePassword, password), Mistakes: mistakes(p, t, security)}

	if withAddress {
		q := markers[slotAddressQuery]
		v.Raw = []link{
			{Name: t.RawAutoconfig, Href: h.links.Autoconfig + "?emailaddress=" + q},
			{Name: t.RawAutodiscover, Href: h.links.AutodiscoverJSON + "?Email=" + q + "&Protocol=AutodiscoverV1"},
			{Name: t.RawProfile, Href: v.ProfileHref},
		}
	} else {
		v.Raw = []link{{Name: t.RawISPDB, Href: h.links.ISPDB + markers[slotDomainASCII]}}
	}
	return v
}

// mistakes lists what is commonly gotten wrong, for this provider's servers: each
// server with its port and security, and the confusions guides on the web spread
// (docs/qq-mail.md, "Mistakes in circulation").
func mistakes(p *mailconf.Provider, t *uiText, security func(*mailconf.Server) string) []string {
	var out []string
	protocol := map[mailconf.ServerType]string{mailconf.TypeIMAP: "IMAP", mailconf.TypePOP3: "POP3", mailconf.TypeSMTP: "SMTP"}
	var imap, pop *mailconf.Server
	for s := range p.Servers() {
		out = append(out, fmt.Sprintf(t.MistakeServer, protocol[s.Type], host(s), strconv.Itoa(s.Port), security(s)))
		switch {
		case s.Type == mailconf.TypeIMAP && imap == nil:
			imap = s
		case s.Type == mailconf.TypePOP3 && pop == nil:
			pop = s
		}
	}
	if imap != nil && pop != nil && imap.Hostname != pop.Hostname {
		out = append(out, fmt.Sprintf(t.MistakeIMAPvsPOP, host(pop), "POP3"))
	}
	if imap != nil && pop != nil && pop.Port == 995 {
		out = append(out, t.MistakePort995)
	}
	for _, s := range p.Outgoing {
		if s.Port == 465 {
			out = append(out, t.MistakePort465)
			break
		}
	}
	if in := p.PreferredIncoming(); in != nil && in.Username == mailconf.PlaceholderAddress {
		out = append(out, t.MistakeUsername)
	}
	return append(out, t.MistakeHTTPS)
}

// host is a server's host name on a page: the literal name, or the per-domain name
// with the domain's slot.
func host(s *mailconf.Server) string {
	if s.Hostname.PerDomain() {
		return s.Hostname.Prefix() + markers[slotDomainASCII]
	}
	return s.Hostname.String()
}

// takesPassword reports whether a step takes the password hint.
func takesPassword(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '%' && s[i+1] == 's' {
			return true
		}
	}
	return false
}
