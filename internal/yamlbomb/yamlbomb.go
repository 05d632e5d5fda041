// Package yamlbomb writes the YAML files that try to blow up a parser through aliases,
// for the tests that show a configuration with them is refused cheaply.
package yamlbomb

import (
	"fmt"
	"strings"
)

// AliasBomb is one provider with n domains, then the same provider n times more through
// a YAML alias: n² domains once followed, from about 65 KB for n = 3000.
func AliasBomb(n int) string {
	var b strings.Builder
	b.WriteString("providers:\n  - &p\n    id: example.net\n    display_name: Example\n    domains: [")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "d%d.example", i)
	}
	b.WriteString("]\n    incoming: [{type: imap, hostname: imap.example.net, port: 993, socket: SSL}]\n")
	b.WriteString("    outgoing: [{hostname: smtp.example.net, port: 465, socket: SSL}]\n")
	for range n {
		b.WriteString("  - *p\n")
	}
	return b.String()
}

// BillionLaughs is the classic in YAML: every level an alias list of the one below,
// nine levels of nine.
func BillionLaughs() string {
	var b strings.Builder
	b.WriteString(`a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]` + "\n")
	prev := "a"
	for _, c := range "bcdefghi" {
		fmt.Fprintf(&b, "%c: &%c [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", c, c, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = string(c)
	}
	b.WriteString("providers: *i\n")
	return b.String()
}
