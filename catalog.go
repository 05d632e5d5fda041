package mailconf

// Catalog is a loaded, validated and normalized configuration: every value parsed into
// its type and every default filled in. It is immutable once built; a reload builds a
// new one.
type Catalog struct {
	// Source names where the configuration came from (a file path or BuiltinName).
	Source string
	// Providers in configuration order.
	Providers []*Provider
	// Autodiscover, DNS, HTTP and TLS settings, with defaults filled in.
	Autodiscover AutodiscoverConfig
	DNS          DNSConfig
	HTTP         HTTPConfig
	TLS          TLSConfig
	Profile      ProfileConfig
	// Warnings are doubtful but usable values found while loading.
	Warnings []Problem

	byDomain map[Domain]*Provider
}

// Lookup returns the provider serving a domain.
func (c *Catalog) Lookup(domain Domain) (*Provider, bool) {
	p, ok := c.byDomain[domain]
	return p, ok
}

// Domains returns every configured domain, primary and alias, in configuration order.
func (c *Catalog) Domains() []Domain {
	var ds []Domain
	for _, p := range c.Providers {
		ds = append(ds, p.Domains...)
	}
	return ds
}

// Config returns the normalized configuration the catalog was built from, with
// defaults filled in and built-in providers expanded.
func (c *Catalog) Config() Config {
	cfg := Config{Autodiscover: c.Autodiscover, DNS: c.DNS, HTTP: c.HTTP, TLS: c.TLS, Profile: c.Profile}
	for _, p := range c.Providers {
		cfg.Providers = append(cfg.Providers, *p)
	}
	return cfg
}
