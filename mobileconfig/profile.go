// Package mobileconfig builds the Apple configuration profiles (.mobileconfig) that set
// up Mail on iPhone, iPad and Mac from a provider's settings, signs them (CMS
// SignedData, RFC 5652) and serves them.
package mobileconfig

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/mailconf/mailconf"
)

// Payload types and values (apple/device-management, mdm/profiles/TopLevel.yaml and
// com.apple.mail.managed.yaml).
const (
	payloadConfiguration = "Configuration"
	payloadMail          = "com.apple.mail.managed"
	payloadCalDAV        = "com.apple.caldav.account"
	payloadCardDAV       = "com.apple.carddav.account"
	emailTypeIMAP        = "EmailTypeIMAP"
	emailTypePOP         = "EmailTypePOP"
)

// uuidNamespace is the namespace of the name-based UUIDs in mailconf's profiles (RFC
// 9562 §5.5): a fixed value, so that the same provider and address always give the
// same PayloadUUID and a profile installed again replaces the one installed before.
var uuidNamespace = [16]byte{0x6d, 0x61, 0x69, 0x6c, 0x63, 0x6f, 0x6e, 0x66, 0x9a, 0x41, 0x4e, 0x0b, 0x8d, 0x1c, 0x53, 0x2e}

// nameUUID returns the version 5 (SHA-1, name-based) UUID of name, in the upper-case
// form Apple's tools write.
func nameUUID(name string) string {
	h := sha1.New()
	h.Write(uuidNamespace[:])
	h.Write([]byte(name))
	s := h.Sum(nil)[:16]
	s[6] = s[6]&0x0f | 0x50 // version 5
	s[8] = s[8]&0x3f | 0x80 // RFC 9562 variant
	x := strings.ToUpper(hex.EncodeToString(s))
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:]
}

// identity is what a profile's identifiers are derived from: the provider and the
// address, the local part folded to lower case (one mailbox, one profile).
func identity(p *mailconf.Provider, a mailconf.Address) (prefix, name string) {
	labels := strings.Split(p.ID.String(), ".")
	slices.Reverse(labels)
	name = p.ID.String() + "\x00" + strings.ToLower(a.LocalPart) + "@" + a.Domain.String()
	sum := sha256.Sum256([]byte(name))
	// Reverse-DNS, stable per provider and address: reinstalling replaces the profile.
	return strings.Join(labels, ".") + ".mailconf." + hex.EncodeToString(sum[:8]), name
}

// texts are the words of a profile in one language.
type texts struct {
	description string // %[1]s: provider name, %[2]s: address
}

var profileTexts = map[string]texts{
	"en":    {description: "Sets up %[2]s (%[1]s) in Mail. Enter the password your mail provider gives mail apps when asked."},
	"zh-CN": {description: "在“邮件”中设置 %[2]s（%[1]s）。需要密码时，请输入邮箱服务商为邮件客户端提供的密码。"},
}

// Build returns the profile that sets up addr with provider p, as an XML property list,
// in language lang (en or zh-CN). It never holds a password: Mail asks for it.
func Build(p *mailconf.Provider, a mailconf.Address, lang, organization string) ([]byte, error) {
	in := p.PreferredIncoming()
	if in == nil || len(p.Outgoing) == 0 {
		return nil, fmt.Errorf("mobileconfig: provider %s has no incoming or no outgoing server", p.ID)
	}
	out := &p.Outgoing[0]
	name := p.DisplayName.For(lang)
	if organization == "" {
		organization = name
	}
	t, ok := profileTexts[lang]
	if !ok {
		t = profileTexts["en"]
	}
	description := fmt.Sprintf(t.description, name, a.String())
	prefix, id := identity(p, a)
	accountType := emailTypeIMAP
	if in.Type == mailconf.TypePOP3 {
		accountType = emailTypePOP
	}
	mail := dict{
		"PayloadType":                            payloadMail,
		"PayloadVersion":                         1,
		"PayloadIdentifier":                      prefix + ".mail",
		"PayloadUUID":                            nameUUID(id + "\x00mail"),
		"PayloadDisplayName":                     name,
		"PayloadDescription":                     description,
		"EmailAccountDescription":                name,
		"EmailAccountType":                       accountType,
		"EmailAddress":                           a.String(),
		"IncomingMailServerHostName":             in.Hostname.For(a.Domain).String(),
		"IncomingMailServerPortNumber":           in.Port,
		"IncomingMailServerUseSSL":               in.Socket != mailconf.SocketPlain,
		"IncomingMailServerUsername":             in.LoginName(a),
		"IncomingMailServerAuthentication":       authentication(in.Authentication.FirstExcept(mailconf.AuthOAuth2)),
		"OutgoingMailServerHostName":             out.Hostname.For(a.Domain).String(),
		"OutgoingMailServerPortNumber":           out.Port,
		"OutgoingMailServerUseSSL":               out.Socket != mailconf.SocketPlain,
		"OutgoingMailServerUsername":             out.LoginName(a),
		"OutgoingMailServerAuthentication":       authentication(out.Authentication.FirstExcept(mailconf.AuthOAuth2)),
		"OutgoingPasswordSameAsIncomingPassword": out.LoginName(a) == in.LoginName(a),
	}
	top := dict{
		"PayloadType":              payloadConfiguration,
		"PayloadVersion":           1,
		"PayloadIdentifier":        prefix,
		"PayloadUUID":              nameUUID(id),
		"PayloadDisplayName":       name,
		"PayloadDescription":       description,
		"PayloadOrganization":      organization,
		"PayloadRemovalDisallowed": false,
		"PayloadContent":           append([]dict{mail}, davPayloads(p, a, prefix, id, name)...),
	}
	return marshalPlist(top), nil
}

// davPayloads are the calendar and contacts accounts of a profile, for the service of
// each kind clients should use (apple/device-management com.apple.caldav.account.yaml,
// com.apple.carddav.account.yaml: the host name is required; the principal URL is the
// service's URL, where the device starts its discovery).
func davPayloads(p *mailconf.Provider, a mailconf.Address, prefix, id, name string) []dict {
	var out []dict
	for _, k := range []struct {
		payload, key, suffix string
		service              *mailconf.DAVService
	}{
		{payloadCalDAV, "CalDAV", "caldav", mailconf.PreferredDAV(p.Calendars)},
		{payloadCardDAV, "CardDAV", "carddav", mailconf.PreferredDAV(p.Contacts)},
	} {
		s := k.service
		if s == nil {
			continue
		}
		out = append(out, dict{
			"PayloadType":                k.payload,
			"PayloadVersion":             1,
			"PayloadIdentifier":          prefix + "." + k.suffix,
			"PayloadUUID":                nameUUID(id + "\x00" + k.suffix),
			"PayloadDisplayName":         name,
			k.key + "AccountDescription": name,
			k.key + "HostName":           s.URL.Hostname(),
			k.key + "Port":               int(s.Port),
			k.key + "UseSSL":             s.URL.Scheme == "https",
			k.key + "PrincipalURL":       s.URL.String(),
			k.key + "Username":           s.LoginName(a),
		})
	}
	return out
}

// authentication maps an autoconfig authentication method to the profile's
// (com.apple.mail.managed: EmailAuthNone, EmailAuthPassword, EmailAuthCRAMMD5,
// EmailAuthNTLM, EmailAuthHTTPMD5). Profiles have no OAuth2 value; Mail then asks for
// a password, which providers that moved to OAuth2 give as an app password.
func authentication(a mailconf.Authentication) string {
	switch a {
	case mailconf.AuthNone, mailconf.AuthClientIP:
		return "EmailAuthNone"
	case mailconf.AuthPasswordEncrypted:
		return "EmailAuthCRAMMD5"
	}
	return "EmailAuthPassword"
}
