package autodiscover

import "bytes"

// scanRequest reads the request shapes real clients send (Outlook, Thunderbird with an
// address it has escaped, exchangelib, mobile apps) without building a tree: an
// optional BOM and XML declaration (version 1.0, UTF-8), an Autodiscover root with
// namespace declarations only, a Request element, and in it EMailAddress, LegacyDN and
// AcceptableResponseSchema, each at most once, holding plain ASCII text; whitespace
// between elements. ok is false for anything else, which parseRequest then reads with
// etree: comments, CDATA, references, other elements or attributes, prefixes without
// a declaration, non-ASCII text. It never accepts what parseRequest refuses and reads
// the same request from what it accepts (FuzzScanMatchesParse).
func scanRequest(body []byte) (req request, ok bool) {
	s := scanner{b: bytes.TrimPrefix(body, utf8BOM)}
	// The declaration, if any, comes first (XML 1.0 §2.8).
	if bytes.HasPrefix(s.b, []byte("<?")) && !s.declaration() {
		return request{}, false
	}
	s.space()
	// <Autodiscover xmlns="..." xmlns:p="...">
	rootName, ok := s.open()
	if !ok || string(local(rootName)) != "Autodiscover" {
		return request{}, false
	}
	ns, ok := s.namespaces(prefix(rootName))
	if !ok {
		return request{}, false
	}
	req.Namespace = ns
	s.space()
	reqName, ok := s.open()
	if !ok || string(local(reqName)) != "Request" || !s.close() {
		return request{}, false
	}
	var seen [3]bool
	for {
		s.space()
		if s.peekEnd() {
			break
		}
		name, ok := s.open()
		if !ok || !s.close() {
			return request{}, false
		}
		var field *string
		var k int
		switch string(local(name)) {
		case "EMailAddress":
			field, k = &req.EMailAddress, 0
		case "LegacyDN":
			field, k = &req.LegacyDN, 1
		case "AcceptableResponseSchema":
			field, k = &req.Schema, 2
		default:
			return request{}, false
		}
		if seen[k] {
			return request{}, false
		}
		seen[k] = true
		text, ok := s.text()
		if !ok || !s.end(name) {
			return request{}, false
		}
		*field = knownString(bytes.TrimSpace(text))
	}
	if !s.end(reqName) {
		return request{}, false
	}
	s.space()
	if !s.end(rootName) {
		return request{}, false
	}
	s.space()
	if s.i != len(s.b) {
		return request{}, false
	}
	return req, true
}

// knownString returns b as a string, without allocating for the namespaces and schemas
// clients send.
func knownString(b []byte) string {
	switch string(b) { // compiled without a conversion
	case nsRequestOutlook:
		return nsRequestOutlook
	case nsRequestMobilesync:
		return nsRequestMobilesync
	case nsResponseOutlook:
		return nsResponseOutlook
	case nsResponseMobilesync:
		return nsResponseMobilesync
	}
	return string(b)
}

// scanner walks a request body.
type scanner struct {
	b []byte
	i int
}

// space skips XML whitespace but CR, which the decoder would turn into LF.
func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n') {
		s.i++
	}
}

// declaration reads an XML declaration: version 1.0, encoding UTF-8 if any,
// standalone yes or no if any (XML 1.0 §2.8; encoding/xml refuses other versions, and
// other encodings without a CharsetReader).
func (s *scanner) declaration() bool {
	if !bytes.HasPrefix(s.b[s.i:], []byte("<?xml")) {
		return false
	}
	s.i += len("<?xml")
	for n := 0; ; n++ {
		sp := s.i
		s.space()
		if bytes.HasPrefix(s.b[s.i:], []byte("?>")) {
			s.i += 2
			return n > 0
		}
		if s.i == sp || n == 3 {
			return false
		}
		name, value, ok := s.attribute()
		if !ok {
			return false
		}
		switch {
		case string(name) == "version" && n == 0:
			ok = string(value) == "1.0"
		case string(name) == "encoding" && n == 1:
			ok = bytes.EqualFold(value, []byte("utf-8"))
		case string(name) == "standalone" && n > 0:
			ok = string(value) == "yes" || string(value) == "no"
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
}

// attribute reads name="value" or name='value' with a value of printable ASCII
// without "<" or "&".
func (s *scanner) attribute() (name, value []byte, ok bool) {
	name, ok = s.name()
	if !ok || s.i+1 >= len(s.b) || s.b[s.i] != '=' {
		return nil, nil, false
	}
	s.i++
	q := s.b[s.i]
	if q != '"' && q != '\'' {
		return nil, nil, false
	}
	s.i++
	end := bytes.IndexByte(s.b[s.i:], q)
	if end < 0 {
		return nil, nil, false
	}
	value = s.b[s.i : s.i+end]
	s.i += end + 1
	if bytes.ContainsAny(value, "<&") || !printableASCII(value) {
		return nil, nil, false
	}
	return name, value, true
}

// open reads "<" and a name; the tag's attributes and ">" come next.
func (s *scanner) open() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '<' {
		return nil, false
	}
	s.i++
	return s.name()
}

// name reads an element or attribute name: an ASCII name, with at most one prefix.
func (s *scanner) name() ([]byte, bool) {
	start, colon := s.i, -1
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_':
		case ('0' <= c && c <= '9' || c == '-' || c == '.') && s.i > start && s.i != colon+1:
		case c == ':' && colon < 0 && s.i > start:
			colon = s.i
		default:
			n := s.b[start:s.i]
			return n, len(n) > 0 && colon != s.i-1
		}
		s.i++
	}
	return nil, false
}

// close reads the ">" of a start tag without attributes.
func (s *scanner) close() bool {
	if s.i < len(s.b) && s.b[s.i] == '>' {
		s.i++
		return true
	}
	return false
}

// namespaces reads the root's attributes, which must all declare namespaces, and
// ">", and returns the namespace of the root's prefix ("" for none), as etree's
// NamespaceURI finds it. A prefix nothing declares is left to etree.
func (s *scanner) namespaces(rootPrefix []byte) (string, bool) {
	var ns string
	found := len(rootPrefix) == 0
	var seen [8][]byte // the attribute names read; more are left to etree
	n := 0
	for {
		sp := s.i
		s.space()
		if s.close() {
			return ns, found
		}
		if s.i == sp {
			return "", false // attributes are separated by whitespace
		}
		name, value, ok := s.attribute()
		if !ok || n == len(seen) {
			return "", false
		}
		for _, have := range seen[:n] {
			if bytes.Equal(have, name) {
				return "", false
			}
		}
		seen[n] = name
		n++
		switch {
		case string(name) == "xmlns":
			if len(rootPrefix) == 0 {
				ns = knownString(value)
			}
		case bytes.HasPrefix(name, []byte("xmlns:")):
			if len(rootPrefix) > 0 && bytes.Equal(name[len("xmlns:"):], rootPrefix) {
				ns, found = knownString(value), true
			}
		default:
			return "", false
		}
	}
}

// text reads character data up to the next "<": printable ASCII, tab and LF, no
// references.
func (s *scanner) text() ([]byte, bool) {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] != '<' {
		c := s.b[s.i]
		if c == '&' || c == '\r' || c >= 0x7f || c < 0x20 && c != '\t' && c != '\n' {
			return nil, false
		}
		s.i++
	}
	t := s.b[start:s.i]
	// "]]>" may not appear in character data (XML 1.0 §2.4).
	return t, s.i < len(s.b) && !bytes.Contains(t, []byte("]]>"))
}

// peekEnd reports whether an end tag comes next.
func (s *scanner) peekEnd() bool { return bytes.HasPrefix(s.b[s.i:], []byte("</")) }

// end reads "</name>" for exactly the name the element was opened with.
func (s *scanner) end(name []byte) bool {
	rest := s.b[s.i:]
	if len(rest) < len(name)+3 || rest[0] != '<' || rest[1] != '/' || !bytes.Equal(rest[2:2+len(name)], name) || rest[2+len(name)] != '>' {
		return false
	}
	s.i += len(name) + 3
	return true
}

func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// local returns a name without its prefix.
func local(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// prefix returns a name's prefix, nil for none.
func prefix(name []byte) []byte {
	if i := bytes.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return nil
}
