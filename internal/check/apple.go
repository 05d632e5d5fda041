package check

import (
	"crypto/x509"
	"mime"
	"strings"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// judgeApple judges what Apple devices and people get: the configuration profile and
// the setup page.
func (c *checker) judgeApple() []Step {
	return []Step{c.judgeProfile().step(), c.judgeSetup().step()}
}

// judgeProfile judges the profile as iOS and macOS read it: the type Safari installs,
// the keys the mail payload requires, the signature and whom it names.
func (c *checker) judgeProfile() *result {
	resp := c.profile
	r := &result{id: "apple.profile", asked: "GET " + resp.url}
	if i := c.answered(resp); i != nil {
		r.add(*i)
		return r
	}
	if mt, _, _ := mime.ParseMediaType(resp.contentType()); mt != "application/x-apple-aspen-config" {
		// Safari offers to install a profile only with this type.
		r.add(issue{StatusFail, "content-type", c.t("found.profile-type", clean(resp.contentType(), 80)), c.t("fix.profile-type")})
	}
	p, err := clientrules.ParseProfile(resp.body)
	if err != nil {
		r.add(issue{StatusFail, "rejected-apple", c.t("found.rejected-apple", clean(err.Error(), 160)), c.t("fix.apple", c.autoconfigHost)})
		return r
	}
	r.usable = true
	r.okFound = serverList([]clientrules.Server{p.Incoming, p.Outgoing})
	for _, s := range []clientrules.Server{p.Incoming, p.Outgoing} {
		for _, i := range c.mistakeIssues(s) {
			r.add(i)
		}
	}
	if p.EmailAddress != "" && !strings.EqualFold(p.EmailAddress, c.address) {
		r.add(issue{StatusWarn, "other-address", c.t("found.profile-address", clean(p.EmailAddress, 80), c.address), c.t("fix.apple", c.autoconfigHost)})
	}
	switch {
	case !p.Signed:
		r.add(issue{StatusWarn, "unsigned", c.t("found.unsigned"), c.t("fix.unsigned")})
	default:
		inter := x509.NewCertPool()
		for _, ch := range p.Chain {
			inter.AddCert(ch)
		}
		if _, err := p.Signer.Verify(x509.VerifyOptions{Roots: c.o.Roots, Intermediates: inter, CurrentTime: c.o.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			r.add(issue{StatusWarn, "signer-untrusted", c.t("found.signer-untrusted", clean(p.Signer.Subject.CommonName, 80), clean(err.Error(), 160)), c.t("fix.signer-untrusted")})
		} else {
			r.okFound += "; " + c.t("found.signed", clean(p.Signer.Subject.CommonName, 80))
		}
	}
	return r
}

// judgeSetup judges the setup page people open: it must list the servers.
func (c *checker) judgeSetup() *result {
	resp := c.setup
	r := &result{id: "apple.setup", asked: "GET " + resp.url}
	if i := c.answered(resp); i != nil {
		r.add(*i)
		return r
	}
	in, out := setupServers(resp.body)
	if mt, _, _ := mime.ParseMediaType(resp.contentType()); mt != "text/html" || len(in) == 0 || len(out) == 0 {
		r.add(issue{StatusFail, "setup-unreadable", c.t("found.setup-unreadable"), c.t("fix.setup", c.autoconfigHost)})
		return r
	}
	r.usable = true
	r.okFound = serverList(in, out)
	for _, s := range append(in, out...) {
		for _, i := range c.mistakeIssues(s) {
			r.add(i)
		}
	}
	return r
}
