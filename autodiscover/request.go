package autodiscover

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// Reasons a request body is refused with error 600. parseRequest wraps them with %w.
var (
	errEmptyBody   = errors.New("empty body")
	errDeclaration = errors.New("DOCTYPE, ENTITY or other markup declaration")
	errMalformed   = errors.New("malformed XML")
	errNotRequest  = errors.New("not an Autodiscover request")
	errNoAddress   = errors.New("neither EMailAddress nor LegacyDN")
	errBadAddress  = errors.New("EMailAddress is not an email address")
	errTooLarge    = errors.New("body larger than 64 KiB")
	errBodyRead    = errors.New("reading the body failed")
)

// reason returns the fixed text of the refusal err wraps, for the request log: never
// the details, which may quote the body.
func reason(err error) string {
	for _, r := range []error{errEmptyBody, errDeclaration, errMalformed, errNotRequest, errNoAddress, errBadAddress, errTooLarge, errBodyRead} {
		if errors.Is(err, r) {
			return r.Error()
		}
	}
	return "invalid request"
}

// request is what an Autodiscover POX request asks (MS-OXDSCLI request schema).
type request struct {
	// EMailAddress and LegacyDN are the trimmed texts of those elements; "" if absent.
	EMailAddress string
	LegacyDN     string
	// Schema is the trimmed AcceptableResponseSchema; "" if absent.
	Schema string
	// Namespace is the namespace URI of the root element.
	Namespace string
}

// utf8BOM is a leading byte order mark, which some clients send.
var utf8BOM = []byte("\xef\xbb\xbf")

// parseRequest reads an Autodiscover request body: the shapes clients send with
// scanRequest, anything else with etree (parseRequestTree).
func parseRequest(body []byte) (request, error) {
	if req, ok := scanRequest(body); ok {
		return req, nil
	}
	return parseRequestTree(body)
}

// parseRequestTree reads an Autodiscover request body with etree. It refuses any markup
// declaration before parsing (Zimbra CVE-2019-9670 entered through the Autodiscover
// DOCTYPE), matches element names regardless of prefix, and accepts a leading BOM.
// Thunderbird writes the address into its request unescaped
// (ExchangeAutoDiscover.sys.mjs fetchConfigFromExchange), so a body that is malformed
// only because of bare "&" characters is read again with them escaped.
func parseRequestTree(body []byte) (request, error) {
	body = bytes.TrimPrefix(body, utf8BOM)
	if len(bytes.TrimSpace(body)) == 0 {
		return request{}, errEmptyBody
	}
	if hasMarkupDeclaration(body) {
		return request{}, errDeclaration
	}
	doc, err := readXML(body)
	if err != nil {
		fixed, changed := escapeBareAmpersands(body)
		if !changed {
			return request{}, err
		}
		if doc, err = readXML(fixed); err != nil {
			return request{}, err
		}
	}
	root := doc.Root()
	if root == nil || root.Tag != "Autodiscover" {
		return request{}, fmt.Errorf("%w: root element is not Autodiscover", errNotRequest)
	}
	req := request{Namespace: root.NamespaceURI()}
	r := root.SelectElement("Request")
	if r == nil {
		return request{}, fmt.Errorf("%w: no Request element", errNotRequest)
	}
	req.EMailAddress = childText(r, "EMailAddress")
	req.LegacyDN = childText(r, "LegacyDN")
	req.Schema = childText(r, "AcceptableResponseSchema")
	return req, nil
}

// readXML parses body with etree's default, strict settings: no entity map, not
// permissive, depth limited to 1024.
func readXML(body []byte) (*etree.Document, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return doc, nil
}

// childText returns the trimmed text of the first child element named tag, in any
// namespace prefix.
func childText(e *etree.Element, tag string) string {
	c := e.SelectElement(tag)
	if c == nil {
		return ""
	}
	return strings.TrimSpace(c.Text())
}

// hasMarkupDeclaration reports whether body holds "<!" other than a comment or a
// CDATA section: a DOCTYPE, an ENTITY or any other declaration.
func hasMarkupDeclaration(body []byte) bool {
	for {
		i := bytes.Index(body, []byte("<!"))
		if i < 0 {
			return false
		}
		body = body[i+2:]
		if !bytes.HasPrefix(body, []byte("--")) && !bytes.HasPrefix(body, []byte("[CDATA[")) {
			return true
		}
	}
}

// escapeBareAmpersands replaces every "&" that does not start a character or entity
// reference with "&amp;". It reports whether it changed anything.
func escapeBareAmpersands(body []byte) ([]byte, bool) {
	n := 0
	for i, c := range body {
		if c == '&' && !isReference(body[i+1:]) {
			n++
		}
	}
	if n == 0 {
		return body, false
	}
	out := make([]byte, 0, len(body)+4*n)
	for i, c := range body {
		if c == '&' && !isReference(body[i+1:]) {
			out = append(out, "&amp;"...)
			continue
		}
		out = append(out, c)
	}
	return out, true
}

// isReference reports whether s, the text after an "&", starts with the rest of a
// reference: "#digits;", "#xhex;" or "name;" (XML 1.0 §4.1, names limited to ASCII).
func isReference(s []byte) bool {
	// Look no further than the longest reference accepted: scanning the whole rest of
	// the body for every bare "&" would be quadratic.
	end := bytes.IndexByte(s[:min(len(s), 33)], ';')
	if end <= 0 || end > 32 {
		return false
	}
	ref := s[:end]
	if ref[0] == '#' {
		digits, hex := ref[1:], false
		if len(digits) > 0 && digits[0] == 'x' {
			digits, hex = digits[1:], true
		}
		if len(digits) == 0 {
			return false
		}
		for _, c := range digits {
			if !('0' <= c && c <= '9' || hex && ('a' <= c && c <= 'f' || 'A' <= c && c <= 'F')) {
				return false
			}
		}
		return true
	}
	for i, c := range ref {
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':'
		if !letter && (i == 0 || !('0' <= c && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}
