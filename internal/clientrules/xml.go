// Package clientrules reads the documents mailconf serves the way the strictest real
// clients do (Thunderbird, Thunderbird for Android, Outlook, exchangelib, Apple
// devices), and names the mistakes that circulate in setup guides; the golden tests and
// `mailconf check` share it.
package clientrules

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Node is a parsed XML element: enough of a DOM to apply client rules. Names keep their
// resolved namespace; the autoconfig rules look at local names only, as its clients do.
type Node struct {
	Name     xml.Name
	Attr     []xml.Attr
	Text     string // the character data directly inside the element, untrimmed
	Children []*Node
}

// Child returns the first child element with the local name, or nil.
func (n *Node) Child(local string) *Node {
	for _, c := range n.Children {
		if c.Name.Local == local {
			return c
		}
	}
	return nil
}

// All returns the child elements with the local name, in document order.
func (n *Node) All(local string) []*Node {
	var out []*Node
	for _, c := range n.Children {
		if c.Name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// AttrValue returns the value of the attribute with the local name and no namespace.
func (n *Node) AttrValue(local string) (string, bool) {
	for _, a := range n.Attr {
		if a.Name.Local == local && a.Name.Space == "" {
			return a.Value, true
		}
	}
	return "", false
}

// ParseXML parses a whole document strictly, as a validating client would: well-formed,
// UTF-8 without a byte order mark, no DOCTYPE or other directive, exactly one root
// element and no text outside it.
func ParseXML(body []byte) (*Node, error) {
	if bytes.HasPrefix(body, []byte("\xef\xbb\xbf")) {
		return nil, errors.New("body starts with a BOM (ISPDB CI rejects it)")
	}
	if !utf8.Valid(body) {
		return nil, errors.New("body is not UTF-8 (K-9 reads it as UTF-8 whatever the declaration says)")
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	var root *Node
	var stack []*Node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &Node{Name: t.Name, Attr: t.Attr}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("two root elements")
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.Children = append(p.Children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			} else if strings.TrimSpace(string(t)) != "" {
				return nil, errors.New("text outside the root element")
			}
		case xml.Directive:
			return nil, errors.New("DOCTYPE or other directive present")
		}
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}
