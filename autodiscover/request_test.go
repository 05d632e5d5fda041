package autodiscover

import (
	"errors"
	"strings"
	"testing"

	"github.com/mailconf/mailconf"
)

// TestParseRequest pins why each body is refused, and what is read from the others.
func TestParseRequest(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantErr    error
		want       request
	}{
		{name: "outlook", body: autodiscoverRequest(" user@qq.com "),
			want: request{EMailAddress: "user@qq.com", Schema: nsResponseOutlook, Namespace: nsRequestOutlook}},
		{name: "raw &", body: thunderbirdRequest("a&b@qq.com"),
			want: request{EMailAddress: "a&b@qq.com", Schema: nsResponseOutlook, Namespace: nsRequestOutlook}},
		{name: "raw & next to a reference", body: thunderbirdRequest("a&b&amp;c&#64;@qq.com"),
			want: request{EMailAddress: "a&b&c@@qq.com", Schema: nsResponseOutlook, Namespace: nsRequestOutlook}},
		{name: "LegacyDN", body: `<x:Autodiscover xmlns:x="urn:x"><x:Request><x:LegacyDN>/o=Org/cn=u</x:LegacyDN></x:Request></x:Autodiscover>`,
			want: request{LegacyDN: "/o=Org/cn=u", Namespace: "urn:x"}},
		{name: "empty", body: "", wantErr: errEmptyBody},
		{name: "BOM only", body: "\xef\xbb\xbf\n", wantErr: errEmptyBody},
		{name: "DOCTYPE", body: "<!DOCTYPE x>" + autodiscoverRequest("user@qq.com"), wantErr: errDeclaration},
		{name: "DOCTYPE after BOM", body: "\xef\xbb\xbf<!DOCTYPE x>" + autodiscoverRequest("user@qq.com"), wantErr: errDeclaration},
		{name: "ENTITY", body: autodiscoverRequest("user@qq.com") + `<!ENTITY x "y">`, wantErr: errDeclaration},
		{name: "unknown entity stays malformed", body: thunderbirdRequest("a&b;@qq.com"), wantErr: errMalformed},
		{name: "raw <", body: thunderbirdRequest("a<b@qq.com"), wantErr: errMalformed},
		{name: "too deep", body: strings.Repeat("<b>", 1100) + strings.Repeat("</b>", 1100), wantErr: errMalformed},
		{name: "other root", body: "<Request/>", wantErr: errNotRequest},
		{name: "no Request", body: "<Autodiscover/>", wantErr: errNotRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRequest([]byte(tc.body))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestIdentify pins the choice between LegacyDN and EMailAddress.
func TestIdentify(t *testing.T) {
	for _, tc := range []struct {
		req       request
		wantAddr  string
		wantKnown bool
		wantErr   error
	}{
		{request{EMailAddress: "a@qq.com"}, "a@qq.com", true, nil},
		{request{LegacyDN: "b@qq.com", EMailAddress: "a@qq.com"}, "b@qq.com", true, nil},
		{request{LegacyDN: "/o=Org/cn=Recipients/cn=b c", EMailAddress: "a@qq.com"}, "a@qq.com", true, nil},
		{request{LegacyDN: "/o=Org/cn=Recipients/cn=b c"}, "@", false, nil},
		{request{}, "@", false, errNoAddress},
		{request{EMailAddress: "a@"}, "@", false, mailconf.ErrBadAddress},
	} {
		addr, known, err := identify(tc.req)
		if addr.String() != tc.wantAddr || known != tc.wantKnown || !errors.Is(err, tc.wantErr) {
			t.Errorf("identify(%+v) = %s, %v, %v; want %s, %v, %v", tc.req, addr, known, err, tc.wantAddr, tc.wantKnown, tc.wantErr)
		}
	}
}

// TestRenderAllocs: serving a prepared document only fills in the address, without
// allocating once the pooled buffers have grown.
func TestRenderAllocs(t *testing.T) {
	h := newTestHandler(t, testCatalog(t))
	d := h.docs.Load()
	addr, err := mailconf.ParseAddress(`"a<b&c"@example.net`)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := d.cat.Lookup(addr.Domain)
	s := new(scratch)
	f := &fill{addr: addr, time: fixedTime, id: fixedID}
	success, err := d.success[p].Get()
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range []template{success, d.invalidRequest, d.mobilesync601} {
		tmpl.render(s, f)
		if n := testing.AllocsPerRun(100, func() { s.out = s.out[:0]; tmpl.render(s, f) }); n != 0 {
			t.Errorf("%v allocations per render, want 0", n)
		}
	}
}
