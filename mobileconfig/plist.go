package mobileconfig

import (
	"bytes"
	"encoding/xml"
	"slices"
	"strconv"
)

// dict is a plist dictionary. Keys are written sorted, so equal dictionaries are equal
// bytes.
type dict map[string]any

// plistHeader is what Apple's own profiles start with.
const plistHeader = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
`

// marshalPlist writes v as an XML property list. Values are dict, []dict, string, int
// and bool; text is escaped with encoding/xml, which also replaces characters XML
// cannot carry.
func marshalPlist(v dict) []byte {
	var b bytes.Buffer
	b.WriteString(plistHeader)
	writeValue(&b, v, 0)
	b.WriteString("</plist>\n")
	return b.Bytes()
}

func indent(b *bytes.Buffer, depth int) {
	for range depth {
		b.WriteByte('\t')
	}
}

func writeValue(b *bytes.Buffer, v any, depth int) {
	indent(b, depth)
	switch v := v.(type) {
	case dict:
		b.WriteString("<dict>\n")
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			indent(b, depth+1)
			b.WriteString("<key>")
			xml.EscapeText(b, []byte(k))
			b.WriteString("</key>\n")
			writeValue(b, v[k], depth+1)
		}
		indent(b, depth)
		b.WriteString("</dict>\n")
	case []dict:
		b.WriteString("<array>\n")
		for _, e := range v {
			writeValue(b, e, depth+1)
		}
		indent(b, depth)
		b.WriteString("</array>\n")
	case string:
		b.WriteString("<string>")
		xml.EscapeText(b, []byte(v))
		b.WriteString("</string>\n")
	case int:
		b.WriteString("<integer>")
		b.WriteString(strconv.Itoa(v))
		b.WriteString("</integer>\n")
	case bool:
		if v {
			b.WriteString("<true/>\n")
		} else {
			b.WriteString("<false/>\n")
		}
	default:
		panic("mobileconfig: no plist form for this value") // every caller is in this package
	}
}
