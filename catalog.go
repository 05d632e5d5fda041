package mailconf

import (
	"fmt"
	"slices"
)

// Catalog is a loaded, validated and normalized configuration: every value parsed into
// its type and every default filled in, and the domains read from the providers'
// sources. It is immutable once built; a reload or a changed domain list builds a new
// one.
type Catalog struct {
	// Source names where the configuration came from (a file path or BuiltinName).
	Source string
	// Providers in configuration order.
	Providers []*Provider
	// Autodiscover, DNS, HTTP, TLS and profile settings, with defaults filled in.
	Autodiscover AutodiscoverConfig
	DNS          DNSConfig
	HTTP         HTTPConfig
	TLS          TLSConfig
	Profile      ProfileConfig
	// Warnings are doubtful but usable values found while loading.
	Warnings []Problem

	byName  map[string]*Provider   // every served domain, by its ASCII form
	sourced map[*Provider][]Domain // domains read from sources, by provider, sorted
}

// Lookup returns the provider serving a domain.
func (c *Catalog) Lookup(domain Domain) (*Provider, bool) {
	p, ok := c.byName[domain.name]
	return p, ok
}

// LookupName looks up a lowercase ASCII name, as taken from a request (a Host header,
// an address already parsed): the served domain it is, and its provider.
func (c *Catalog) LookupName(name string) (Domain, *Provider, bool) {
	p, ok := c.byName[name]
	if !ok {
		return Domain{}, nil, false
	}
	return Domain{name: name}, p, true
}

// Domains returns every served domain: each provider's configured domains in
// configuration order, then those read from its sources.
func (c *Catalog) Domains() []Domain {
	ds := make([]Domain, 0, len(c.byName))
	for _, p := range c.Providers {
		ds = append(ds, c.DomainsOf(p)...)
	}
	return ds
}

// DomainsOf returns the domains p serves: configured, then read from its sources.
func (c *Catalog) DomainsOf(p *Provider) []Domain {
	src := c.sourced[p]
	if len(src) == 0 {
		return p.Domains
	}
	return append(slices.Clone(p.Domains), src...)
}

// SourcedDomains returns the domains read from p's sources, sorted.
func (c *Catalog) SourcedDomains(p *Provider) []Domain { return c.sourced[p] }

// NumDomains returns how many domains are served.
func (c *Catalog) NumDomains() int { return len(c.byName) }

// ConflictError is returned by WithSourcedDomains for a domain two providers claim.
type ConflictError struct {
	Domain      Domain
	Provider    Domain // the provider whose source lists it
	ClaimedBy   Domain // the provider that has it already
	FromSources bool   // ClaimedBy has it from a source too
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("domain %s: provider %s's sources list it, but provider %s serves it", e.Domain, e.Provider, e.ClaimedBy)
}

// WithSourcedDomains returns a catalog that also serves the domains read from the
// providers' sources, by provider ID; providers not in lists serve no sourced domain.
// A domain claimed by two providers refuses the whole change (*ConflictError); the
// receiver is not modified.
func (c *Catalog) WithSourcedDomains(lists map[Domain][]Domain) (*Catalog, error) {
	n := *c
	n.byName = make(map[string]*Provider, len(c.byName))
	n.sourced = make(map[*Provider][]Domain, len(lists))
	for _, p := range c.Providers {
		for _, d := range p.Domains {
			n.byName[d.name] = p
		}
	}
	for _, p := range c.Providers {
		list := lists[p.ID]
		if len(list) == 0 {
			continue
		}
		var own []Domain
		for _, d := range list {
			switch q, ok := n.byName[d.name]; {
			case ok && q == p:
				continue // configured, or listed twice
			case ok:
				return nil, &ConflictError{Domain: d, Provider: p.ID, ClaimedBy: q.ID, FromSources: !slices.Contains(q.Domains, d)}
			}
			n.byName[d.name] = p
			own = append(own, d)
		}
		slices.SortFunc(own, Domain.Compare)
		n.sourced[p] = own
	}
	return &n, nil
}

// Config returns the normalized configuration the catalog was built from, with
// defaults filled in and built-in providers expanded (sourced domains left out).
func (c *Catalog) Config() Config {
	cfg := Config{Autodiscover: c.Autodiscover, DNS: c.DNS, HTTP: c.HTTP, TLS: c.TLS, Profile: c.Profile}
	for _, p := range c.Providers {
		cfg.Providers = append(cfg.Providers, *p)
	}
	return cfg
}

// CheckDomain reports whether p can serve domain d: whether every name published under
// it stays a valid name (RFC 1035 §2.3.4), with p's per-domain host names too. The
// configuration's domains are checked when it loads; sources check theirs with it.
func (p *Provider) CheckDomain(d Domain) error {
	if n := len(d.name); len(longestOwner)+n > maxDomainLen {
		return fmt.Errorf("%w: %s: %d characters, too long to publish %s<domain> in DNS (at most %d)", ErrBadDomain, d, n, longestOwner, maxDomainLen-len(longestOwner))
	}
	for s := range p.Servers() {
		if s.Hostname.PerDomain() && len(s.Hostname.Prefix())+len(d.name) > maxDomainLen {
			return fmt.Errorf("%w: %s makes %s%s, longer than %d characters", ErrBadDomain, s.Hostname, s.Hostname.Prefix(), d, maxDomainLen)
		}
	}
	return nil
}
