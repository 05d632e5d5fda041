package mailconf

// Catalog is a loaded, validated and normalized configuration. It is immutable once
// built; a reload builds a new one.
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
	// Warnings are doubtful but usable values found while loading.
	Warnings []Problem

	byDomain map[string]*Provider
}

// Lookup returns the provider serving a normalized domain (see NormalizeDomain).
func (c *Catalog) Lookup(domain string) (*Provider, bool) {
	p, ok := c.byDomain[domain]
	return p, ok
}

// Domains returns every configured domain, primary and alias, in configuration order.
func (c *Catalog) Domains() []string {
	var ds []string
	for _, p := range c.Providers {
		ds = append(ds, p.Domains...)
	}
	return ds
}

// SRV service names (RFC 6186 §3, RFC 8314 §5.1).
const (
	ServiceIMAP        = "imap"
	ServiceIMAPS       = "imaps"
	ServicePOP3        = "pop3"
	ServicePOP3S       = "pop3s"
	ServiceSubmission  = "submission"
	ServiceSubmissions = "submissions"
)

func isSRVService(s string) bool {
	switch s {
	case ServiceIMAP, ServiceIMAPS, ServicePOP3, ServicePOP3S, ServiceSubmission, ServiceSubmissions:
		return true
	}
	return false
}

// SRVService returns the SRV service name that publishes this server: implicit TLS
// gets the "s" form (imaps, pop3s, submissions), STARTTLS and plain the bare form.
func (s *Server) SRVService() string {
	tls := s.Socket == SocketSSL
	switch s.Type {
	case TypeIMAP:
		if tls {
			return ServiceIMAPS
		}
		return ServiceIMAP
	case TypePOP3:
		if tls {
			return ServicePOP3S
		}
		return ServicePOP3
	case TypeSMTP:
		if tls {
			return ServiceSubmissions
		}
		return ServiceSubmission
	}
	return ""
}

// Config returns the normalized configuration the catalog was built from, with
// defaults filled in and built-in providers expanded.
func (c *Catalog) Config() Config {
	cfg := Config{Autodiscover: c.Autodiscover, DNS: c.DNS, HTTP: c.HTTP, TLS: c.TLS}
	for _, p := range c.Providers {
		cfg.Providers = append(cfg.Providers, *p)
	}
	return cfg
}
