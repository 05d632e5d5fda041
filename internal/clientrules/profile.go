package clientrules

// Apple configuration profiles (.mobileconfig) with a com.apple.mail.managed payload,
// and calendar and contacts accounts beside it, read as iOS and macOS read them:
// apple/device-management mdm/profiles/TopLevel.yaml, CommonPayloadKeys.yaml,
// com.apple.mail.managed.yaml, com.apple.caldav.account.yaml and
// com.apple.carddav.account.yaml.

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
	"howett.net/plist"
)

// Profile is what a device takes from a profile with one mail payload.
type Profile struct {
	// Signed is true for a CMS SignedData profile whose signature holds; Signer is
	// then the signing certificate and Chain every certificate it carries.
	Signed bool
	Signer *x509.Certificate
	Chain  []*x509.Certificate

	PayloadIdentifier, PayloadUUID, DisplayName string
	// AccountType is EmailTypeIMAP or EmailTypePOP; EmailAddress may be empty (the
	// device then asks).
	AccountType, EmailAddress string
	Incoming, Outgoing        Server
	// Calendars and Contacts are the CalDAV and CardDAV accounts.
	Calendars, Contacts []DAVAccount
}

// DAVAccount is a com.apple.caldav.account or com.apple.carddav.account payload.
type DAVAccount struct {
	Host         string
	Port         int // 0: the device's default
	UseSSL       bool
	PrincipalURL string
	Username     string
}

// profile and mailPayload are the keys read; unknown keys are skipped, as devices
// skip them.
type profile struct {
	PayloadType        string
	PayloadVersion     *int
	PayloadIdentifier  string
	PayloadUUID        string
	PayloadDisplayName string
	PayloadContent     []payload
}

type payload struct {
	PayloadType       string
	PayloadVersion    *int
	PayloadIdentifier string
	PayloadUUID       string

	EmailAccountType                 string
	EmailAddress                     string
	IncomingMailServerHostName       string
	IncomingMailServerPortNumber     int
	IncomingMailServerUseSSL         bool
	IncomingMailServerUsername       string
	IncomingMailServerAuthentication string
	OutgoingMailServerHostName       string
	OutgoingMailServerPortNumber     int
	OutgoingMailServerUseSSL         bool
	OutgoingMailServerUsername       string
	OutgoingMailServerAuthentication string

	CalDAVHostName, CardDAVHostName         string
	CalDAVPort, CardDAVPort                 int
	CalDAVUseSSL, CardDAVUseSSL             *bool
	CalDAVPrincipalURL, CardDAVPrincipalURL string
	CalDAVUsername, CardDAVUsername         string
}

var profileAuth = map[string]bool{"EmailAuthNone": true, "EmailAuthPassword": true, "EmailAuthCRAMMD5": true, "EmailAuthNTLM": true, "EmailAuthHTTPMD5": true}

// ParseProfile reads a profile, signed (CMS SignedData, DER) or not (an XML property
// list). A signed profile's signature must hold; whether its chain is trusted is for
// the caller to decide with its roots. Required: at the top PayloadType Configuration,
// PayloadVersion 1, PayloadIdentifier, PayloadUUID and PayloadContent; in the one
// com.apple.mail.managed payload the common keys plus EmailAccountType (EmailTypeIMAP or
// EmailTypePOP), the incoming and outgoing host names and authentications (one of the
// five EmailAuth values). Ports default as the device defaults them; UseSSL defaults
// to false.
func ParseProfile(body []byte) (*Profile, error) {
	out := &Profile{}
	content := body
	if !bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("<")) {
		p7, err := pkcs7.Parse(body)
		if err != nil {
			return nil, fmt.Errorf("neither a property list nor CMS SignedData: %w", err)
		}
		if err := p7.Verify(); err != nil {
			return nil, fmt.Errorf("the signature does not hold: %w", err)
		}
		out.Signed, out.Signer, out.Chain = true, p7.GetOnlySigner(), p7.Certificates
		if out.Signer == nil {
			return nil, errors.New("the signed profile has not exactly one signer")
		}
		content = p7.Content
	}
	var p profile
	if _, err := plist.Unmarshal(content, &p); err != nil {
		return nil, fmt.Errorf("not a property list: %w", err)
	}
	if p.PayloadType != "Configuration" || p.PayloadVersion == nil || *p.PayloadVersion != 1 {
		return nil, fmt.Errorf("top level: PayloadType %q, PayloadVersion %v; want Configuration, 1", p.PayloadType, p.PayloadVersion)
	}
	if p.PayloadIdentifier == "" || p.PayloadUUID == "" {
		return nil, errors.New("top level: no PayloadIdentifier or PayloadUUID")
	}
	out.PayloadIdentifier, out.PayloadUUID, out.DisplayName = p.PayloadIdentifier, p.PayloadUUID, p.PayloadDisplayName
	var mail *payload
	uuids := map[string]bool{p.PayloadUUID: true}
	ids := map[string]bool{p.PayloadIdentifier: true}
	for i := range p.PayloadContent {
		pl := &p.PayloadContent[i]
		if pl.PayloadVersion == nil || *pl.PayloadVersion != 1 || pl.PayloadIdentifier == "" || pl.PayloadUUID == "" {
			return nil, fmt.Errorf("payload %d (%s): PayloadVersion 1, PayloadIdentifier and PayloadUUID are required", i, pl.PayloadType)
		}
		if uuids[pl.PayloadUUID] || ids[pl.PayloadIdentifier] {
			return nil, fmt.Errorf("payload %d (%s): PayloadUUID or PayloadIdentifier used twice", i, pl.PayloadType)
		}
		uuids[pl.PayloadUUID], ids[pl.PayloadIdentifier] = true, true
		switch pl.PayloadType {
		case "com.apple.mail.managed":
			if mail != nil {
				return nil, errors.New("more than one mail payload")
			}
			mail = pl
		case "com.apple.caldav.account":
			a, err := davAccount(pl.CalDAVHostName, pl.CalDAVPort, pl.CalDAVUseSSL, pl.CalDAVPrincipalURL, pl.CalDAVUsername)
			if err != nil {
				return nil, fmt.Errorf("CalDAV payload: %w", err)
			}
			out.Calendars = append(out.Calendars, a)
		case "com.apple.carddav.account":
			a, err := davAccount(pl.CardDAVHostName, pl.CardDAVPort, pl.CardDAVUseSSL, pl.CardDAVPrincipalURL, pl.CardDAVUsername)
			if err != nil {
				return nil, fmt.Errorf("CardDAV payload: %w", err)
			}
			out.Contacts = append(out.Contacts, a)
		}
	}
	if mail == nil {
		return nil, errors.New("no com.apple.mail.managed payload")
	}
	if mail.PayloadVersion == nil || *mail.PayloadVersion != 1 || mail.PayloadIdentifier == "" || mail.PayloadUUID == "" {
		return nil, errors.New("mail payload: PayloadVersion 1, PayloadIdentifier and PayloadUUID are required")
	}
	typ := map[string]string{"EmailTypeIMAP": TypeIMAP, "EmailTypePOP": TypePOP3}[mail.EmailAccountType]
	if typ == "" {
		return nil, fmt.Errorf("EmailAccountType %q is not EmailTypeIMAP or EmailTypePOP", mail.EmailAccountType)
	}
	if mail.IncomingMailServerHostName == "" || mail.OutgoingMailServerHostName == "" {
		return nil, errors.New("an incoming or outgoing host name is missing")
	}
	if !profileAuth[mail.IncomingMailServerAuthentication] || !profileAuth[mail.OutgoingMailServerAuthentication] {
		return nil, fmt.Errorf("authentication %q / %q is not one of EmailAuthNone, EmailAuthPassword, EmailAuthCRAMMD5, EmailAuthNTLM, EmailAuthHTTPMD5",
			mail.IncomingMailServerAuthentication, mail.OutgoingMailServerAuthentication)
	}
	out.AccountType, out.EmailAddress = mail.EmailAccountType, mail.EmailAddress
	out.Incoming = profileServer(typ, mail.IncomingMailServerHostName, mail.IncomingMailServerPortNumber, mail.IncomingMailServerUseSSL, mail.IncomingMailServerUsername)
	out.Outgoing = profileServer(TypeSMTP, mail.OutgoingMailServerHostName, mail.OutgoingMailServerPortNumber, mail.OutgoingMailServerUseSSL, mail.OutgoingMailServerUsername)
	return out, nil
}

// profileServer is a device's reading of one server: UseSSL means TLS, implicit or by
// STARTTLS as the device decides; without a port the device takes the default one.
func profileServer(typ, host string, port int, ssl bool, user string) Server {
	socket := SocketPlain
	if ssl {
		socket = SocketAnyTLS
	}
	if port == 0 {
		s := SocketSTARTTLS
		if ssl {
			s = SocketSSL
		}
		port = StandardPort(typ, s)
	}
	return Server{Type: typ, Hostname: host, Port: port, Socket: socket, Username: user}
}

// davAccount checks a calendar or contacts payload: the host name is required and
// UseSSL defaults to true.
func davAccount(host string, port int, ssl *bool, principal, user string) (DAVAccount, error) {
	if host == "" || !ValidHostname(host) {
		return DAVAccount{}, fmt.Errorf("HostName %q is missing or not a host name", host)
	}
	if port < 0 || port > 65535 {
		return DAVAccount{}, fmt.Errorf("port %d", port)
	}
	a := DAVAccount{Host: host, Port: port, UseSSL: ssl == nil || *ssl, PrincipalURL: principal, Username: user}
	return a, nil
}
