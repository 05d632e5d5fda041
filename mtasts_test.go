package mailconf

import (
	"testing"

	"github.com/mailconf/mailconf/internal/clientrules"
)

// TestMTASTSPolicyText: the policy text and records follow RFC 8461 and RFC 8460, and
// the id changes exactly when the policy does.
func TestMTASTSPolicyText(t *testing.T) {
	base := MTASTSPolicy{Mode: MTASTSEnforce, MX: []string{"mx.example.com", "*.mx.example.net"}, MaxAge: 604800, ReportTo: OneOrMore{"mailto:tls@example.com", "https://r.example.com/v1"}}
	p, err := clientrules.MTASTSPolicy([]byte(base.Text()))
	if err != nil {
		t.Fatalf("%q: %v", base.Text(), err)
	}
	if p.Mode != "enforce" || len(p.MX) != 2 || p.MaxAge != 604800 {
		t.Errorf("read back %+v", p)
	}
	id, err := clientrules.MTASTSRecord(base.TXT())
	if err != nil || id != base.ID() {
		t.Fatalf("TXT %q: %q %v", base.TXT(), id, err)
	}
	if uris, err := clientrules.TLSRPTRecord(base.ReportTXT()); err != nil || len(uris) != 2 {
		t.Fatalf("report TXT %q: %v %v", base.ReportTXT(), uris, err)
	}
	same := base
	same.ReportTo = nil // not part of the policy
	if same.ID() != base.ID() {
		t.Error("the id changed with the report addresses, which are not in the policy")
	}
	for name, change := range map[string]func(*MTASTSPolicy){
		"mode":     func(m *MTASTSPolicy) { m.Mode = MTASTSTesting },
		"mx":       func(m *MTASTSPolicy) { m.MX = []string{"mx.example.com"} },
		"mx order": func(m *MTASTSPolicy) { m.MX = []string{"*.mx.example.net", "mx.example.com"} },
		"max_age":  func(m *MTASTSPolicy) { m.MaxAge = 86400 },
	} {
		m := base
		change(&m)
		if m.ID() == base.ID() {
			t.Errorf("%s changed, the id did not", name)
		}
	}
	if (&MTASTSPolicy{Mode: MTASTSNone, MaxAge: 86400}).ReportTXT() != "" {
		t.Error("a report record without addresses")
	}
}
