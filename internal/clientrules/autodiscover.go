package clientrules

// Outlook Autodiscover, read as Outlook (MS-OXDSCLI), exchangelib
// (autodiscover/properties.py) and Thunderbird (ExchangeAutoDiscover.sys.mjs) read it:
// docs/clients.md, "Outlook Autodiscover".

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// Autodiscover namespaces, always http:// (docs/clients.md, "Namespaces").
const (
	NSRequestOutlook     = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
	NSResponseBase       = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
	NSResponseOutlook    = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
	NSResponseMobilesync = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
)

// OutlookRequest is the POX request Outlook sends for an address.
func OutlookRequest(address string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="` + NSRequestOutlook + `"><Request><EMailAddress>`)
	_ = xml.EscapeText(&b, []byte(address)) // a strings.Builder does not fail
	b.WriteString(`</EMailAddress><AcceptableResponseSchema>` + NSResponseOutlook + `</AcceptableResponseSchema></Request></Autodiscover>`)
	return b.String()
}

// POX is a POX Autodiscover answer as the clients read it: an error, or settings.
type POX struct {
	// ResponseNS is the namespace of the Response element.
	ResponseNS string
	// Error is set for an error document; the rest is then empty.
	Error *POXError
	// DisplayName is User/DisplayName.
	DisplayName string
	// Protocols are the Account's Protocol elements, in document order.
	Protocols []Protocol
}

// POXError is the Error of an error document (MS-OXDSCLI: 500 address not found,
// 600 invalid request, 601 no answer for the requested schema).
type POXError struct {
	Code, Message, Time, ID string
}

// Protocol is one Protocol element: its Type and every child element's text by local
// name, as written. Clients skip elements they do not know.
type Protocol struct {
	Type   string
	Fields map[string]string
	Order  []string // the local names of the children, in document order
}

// Field returns the text of a child element and whether it is there.
func (p Protocol) Field(name string) (string, bool) {
	v, ok := p.Fields[name]
	return v, ok
}

var timeAttr = regexp.MustCompile(`^\d{2}:\d{2}:\d{2}(\.\d+)?$`)

// ParsePOX reads a POX answer with the rules of Outlook and exchangelib: root
// {responseschema/2006}Autodiscover holding exactly one Response. An error's Response
// is in the base (or mobilesync) namespace, never 2006a (exchangelib reads an Error in
// 2006a as an empty success), with one Error whose elements share that namespace, a
// Time of hh:mm:ss[.fraction], an unsigned Id (MS-ASCMD §2.2.3.63), ErrorCode, Message
// and DebugData. Settings are in 2006a throughout, with User/DisplayName, exactly one
// Account (one per protocol broke Outlook) of AccountType email and Action settings, and
// Protocols of type IMAP, POP3 or SMTP that name Server and Port and say SPA off
// (exchangelib's default is on, and Outlook then asks for NTLM).
func ParsePOX(body []byte) (*POX, error) {
	root, err := ParseXML(body)
	if err != nil {
		return nil, err
	}
	// exchangelib Autodiscover.from_bytes: the root must be {base}Autodiscover.
	if root.Name.Space != NSResponseBase || root.Name.Local != "Autodiscover" {
		return nil, fmt.Errorf("root is {%s}%s, not {%s}Autodiscover", root.Name.Space, root.Name.Local, NSResponseBase)
	}
	if len(root.Children) != 1 || root.Children[0].Name.Local != "Response" {
		return nil, errors.New("root must hold exactly one Response")
	}
	resp := root.Children[0]
	out := &POX{ResponseNS: resp.Name.Space}
	if e := resp.Child("Error"); e != nil {
		if resp.Name.Space != NSResponseBase && resp.Name.Space != NSResponseMobilesync {
			return nil, fmt.Errorf("error Response in namespace %q: exchangelib reads it as an empty success", resp.Name.Space)
		}
		if len(resp.Children) != 1 {
			return nil, errors.New("an error Response must hold exactly one Error")
		}
		for _, n := range append([]*Node{e}, e.Children...) {
			if n.Name.Space != resp.Name.Space {
				return nil, fmt.Errorf("%s in namespace %q, not the Response's %q", n.Name.Local, n.Name.Space, resp.Name.Space)
			}
		}
		pe := &POXError{}
		var ok bool
		if pe.Time, ok = e.AttrValue("Time"); !ok || !timeAttr.MatchString(pe.Time) {
			return nil, fmt.Errorf("the Error's Time attribute %q is not hh:mm:ss[.fraction]", pe.Time)
		}
		if pe.ID, ok = e.AttrValue("Id"); !ok {
			return nil, errors.New("the Error has no Id attribute")
		} else if _, err := strconv.ParseUint(pe.ID, 10, 32); err != nil {
			return nil, fmt.Errorf("the Error's Id %q is not an unsigned number", pe.ID)
		}
		c := e.Child("ErrorCode")
		if c == nil {
			return nil, errors.New("the Error has no ErrorCode")
		}
		pe.Code = c.Text
		if m := e.Child("Message"); m == nil || m.Text == "" {
			return nil, errors.New("the Error has no Message")
		} else {
			pe.Message = m.Text
		}
		if e.Child("DebugData") == nil {
			return nil, errors.New("the Error has no DebugData")
		}
		out.Error = pe
		return out, nil
	}
	var inNS func(n *Node) error
	inNS = func(n *Node) error {
		if n.Name.Space != NSResponseOutlook {
			return fmt.Errorf("%s in namespace %q, not 2006a", n.Name.Local, n.Name.Space)
		}
		for _, c := range n.Children {
			if err := inNS(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := inNS(resp); err != nil {
		return nil, err
	}
	u := resp.Child("User")
	if u == nil || u.Child("DisplayName") == nil {
		return nil, errors.New("no User/DisplayName")
	}
	out.DisplayName = u.Child("DisplayName").Text
	accounts := resp.All("Account")
	if len(accounts) != 1 {
		return nil, fmt.Errorf("%d Account elements, want exactly 1 (one per protocol broke Outlook)", len(accounts))
	}
	acct := accounts[0]
	if a := acct.Child("AccountType"); a == nil || a.Text != "email" {
		return nil, errors.New("the AccountType is not email")
	}
	if a := acct.Child("Action"); a == nil || a.Text != "settings" {
		action := ""
		if a != nil {
			action = a.Text
		}
		return nil, fmt.Errorf("the Action is %q, not settings (redirects are not followed here)", action)
	}
	for i, pr := range acct.All("Protocol") {
		p := Protocol{Fields: map[string]string{}}
		for _, c := range pr.Children {
			if _, dup := p.Fields[c.Name.Local]; !dup {
				p.Order = append(p.Order, c.Name.Local)
				p.Fields[c.Name.Local] = c.Text
			}
		}
		p.Type = p.Fields["Type"]
		switch p.Type {
		case "IMAP", "POP3", "SMTP":
		default:
			// Outlook takes EXCH, EXPR and WEB for other account kinds; an email
			// account has none.
			return nil, fmt.Errorf("protocol %d: Type %q is not IMAP, POP3 or SMTP", i, p.Type)
		}
		if p.Fields["Server"] == "" {
			return nil, fmt.Errorf("protocol %d (%s): no Server", i, p.Type)
		}
		if n, err := strconv.Atoi(p.Fields["Port"]); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("protocol %d (%s): Port %q is not 1..65535", i, p.Type, p.Fields["Port"])
		}
		// exchangelib: SPA defaults to True, so it must be present and off.
		if spa, ok := p.Fields["SPA"]; !ok || spa != "off" {
			return nil, fmt.Errorf("protocol %d (%s): SPA %q, want off (Outlook otherwise asks for Secure Password Authentication)", i, p.Type, spa)
		}
		if ssl, ok := p.Fields["SSL"]; ok && ssl != "on" && ssl != "off" {
			return nil, fmt.Errorf("protocol %d (%s): SSL %q is not on or off", i, p.Type, ssl)
		}
		if enc, ok := p.Fields["Encryption"]; ok {
			switch strings.ToLower(enc) {
			case "none", "ssl", "tls", "auto":
			default:
				return nil, fmt.Errorf("protocol %d (%s): Encryption %q is not None, SSL, TLS or Auto", i, p.Type, enc)
			}
		}
		out.Protocols = append(out.Protocols, p)
	}
	if len(out.Protocols) == 0 {
		return nil, errors.New("the Account has no Protocol")
	}
	return out, nil
}

// ThunderbirdSocket is Thunderbird's reading of a Protocol's security
// (readAutoDiscoverXML): SSL off or Encryption None is plain; otherwise STARTTLS on
// 143, 110, 25 and 587, implicit TLS on any other port.
func (p Protocol) ThunderbirdSocket() string {
	port, _ := strconv.Atoi(p.Fields["Port"])
	switch {
	case strings.EqualFold(p.Fields["SSL"], "off") || strings.EqualFold(p.Fields["Encryption"], "none"):
		return SocketPlain
	case port == 143 || port == 110 || port == 25 || port == 587:
		return SocketSTARTTLS
	}
	return SocketSSL
}

// OutlookSocket is Outlook's reading (MS-OXDSCLI: Encryption, when present, overrides
// SSL): Encryption SSL is implicit TLS, TLS is STARTTLS, None is plain, Auto lets the
// client choose; without it SSL on (the default) is implicit TLS and SSL off plain.
func (p Protocol) OutlookSocket() string {
	if enc, ok := p.Fields["Encryption"]; ok {
		switch strings.ToLower(enc) {
		case "ssl":
			return SocketSSL
		case "tls":
			return SocketSTARTTLS
		case "none":
			return SocketPlain
		case "auto":
			return SocketAnyTLS
		}
	}
	if strings.EqualFold(p.Fields["SSL"], "off") {
		return SocketPlain
	}
	return SocketSSL
}

// Server returns the Protocol as Outlook uses it.
func (p Protocol) Server() Server {
	port, _ := strconv.Atoi(p.Fields["Port"])
	return Server{Type: strings.ToLower(p.Type), Hostname: p.Fields["Server"], Port: port, Socket: p.OutlookSocket(), Username: p.Fields["LoginName"]}
}

// AutodiscoverJSON is an answer of the Autodiscover V2 endpoint: a URL, or an error.
type AutodiscoverJSON struct {
	Protocol string `json:"Protocol"`
	URL      string `json:"Url"`

	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// ParseAutodiscoverJSON reads a V2 answer (no public specification; the shape
// Exchange Online answers): Content-Type application/json; for status 200 an object
// with Protocol AutodiscoverV1 and an absolute https Url; for errors an object with
// ErrorCode and ErrorMessage.
func ParseAutodiscoverJSON(status int, contentType string, body []byte) (*AutodiscoverJSON, error) {
	if ct, _, _ := strings.Cut(contentType, ";"); strings.TrimSpace(ct) != "application/json" {
		return nil, fmt.Errorf("the Content-Type %q is not application/json", contentType)
	}
	var a AutodiscoverJSON
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if status != 200 {
		if a.ErrorCode == "" || a.ErrorMessage == "" {
			return nil, fmt.Errorf("status %d without ErrorCode and ErrorMessage", status)
		}
		return &a, nil
	}
	if a.Protocol != "AutodiscoverV1" {
		return nil, fmt.Errorf("the Protocol is %q, not AutodiscoverV1", a.Protocol)
	}
	u, err := url.Parse(a.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("the Url %q is not an absolute https URL (Outlook takes only HTTPS)", a.URL)
	}
	return &a, nil
}
