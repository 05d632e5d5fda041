package autodiscover

import (
	"strings"
	"testing"
)

// scanSeeds are the request shapes of real clients and their near misses: what the
// scanner must take, and what it must leave to etree.
var scanSeeds = []string{
	autodiscoverRequest("alice@qq.com"),
	thunderbirdRequest("alice@qq.com"),
	thunderbirdRequest("a&b@qq.com"),
	exchangelibRequest("alice@qq.com"),
	mobilesyncRequest("alice@qq.com"),
	"\xef\xbb\xbf" + autodiscoverRequest("alice@qq.com"),
	`<?xml version='1.0' encoding='UTF-8' standalone='no' ?><Autodiscover xmlns="` + nsRequestMobilesync + `"><Request><EMailAddress>user@qq.com</EMailAddress><AcceptableResponseSchema>` + nsResponseMobilesync + `</AcceptableResponseSchema></Request></Autodiscover>`,
	`<?xml version="1.0" encoding="utf-8"?><a:Autodiscover xmlns:a="` + nsRequestOutlook + `"><a:Request><a:EMailAddress>user@qq.com</a:EMailAddress></a:Request></a:Autodiscover>`,
	`<Autodiscover><Request><EMailAddress>user@qq.com</EMailAddress></Request></Autodiscover>`,
	`<Autodiscover xmlns="` + nsRequestOutlook + `"><Request><LegacyDN>/o=Org/cn=Recipients/cn=user</LegacyDN><EMailAddress>user@qq.com</EMailAddress></Request></Autodiscover>`,
	`<Autodiscover xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns="` + nsRequestMobilesync + `"><Request><EMailAddress>u@qq.com</EMailAddress></Request></Autodiscover>`,
	autodiscoverRequest("<![CDATA[user@qq.com]]>"),
	autodiscoverRequest("user<!-- x -->@qq.com"),
	autodiscoverRequest("user&#64;qq.com"),
	"<?xml version=\"1.1\"?>" + autodiscoverRequest("a@qq.com"),
	"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>" + autodiscoverRequest("a@qq.com"),
	" <?xml version=\"1.0\"?>" + autodiscoverRequest("a@qq.com"),
	`<!DOCTYPE x [<!ENTITY e "a">]><Autodiscover><Request><EMailAddress>&e;@qq.com</EMailAddress></Request></Autodiscover>`,
	`<b:Autodiscover><b:Request><b:EMailAddress>u@qq.com</b:EMailAddress></b:Request></b:Autodiscover>`,
	`<Autodiscover><Request><EMailAddress>u@qq.com</EMailAddress></Request></Autodiscover>junk`,
	`<Autodiscover><Request><EMailAddress>u@qq.com</EMailAddress><EMailAddress>v@qq.com</EMailAddress></Request></Autodiscover>`,
	"<Autodiscover><Request><EMailAddress>u@qq.com\r\n</EMailAddress></Request></Autodiscover>",
	`<Autodiscover><Request><EMailAddress>ü@qq.com</EMailAddress></Request></Autodiscover>`,
	`<Autodiscover><Request></Request></Autodiscover>`,
	`<Autodiscover><Request><EMailAddress/></Request></Autodiscover>`,
}

// TestScanRequest: the requests of real clients are read by the scanner, and read the
// same as etree reads them; the near misses are left to etree.
func TestScanRequest(t *testing.T) {
	taken := map[string]bool{
		autodiscoverRequest("alice@qq.com"): true, thunderbirdRequest("alice@qq.com"): true,
		exchangelibRequest("alice@qq.com"): true, mobilesyncRequest("alice@qq.com"): true,
		"\xef\xbb\xbf" + autodiscoverRequest("alice@qq.com"): true,
		scanSeeds[6]: true, scanSeeds[7]: true, scanSeeds[8]: true, scanSeeds[9]: true, scanSeeds[10]: true,
		scanSeeds[23]: true,
	}
	for i, body := range scanSeeds {
		fast, ok := scanRequest([]byte(body))
		if ok != taken[body] {
			t.Errorf("seed %d: scanner took it: %v, want %v\n%s", i, ok, taken[body], body)
			continue
		}
		if !ok {
			continue
		}
		slow, err := parseRequestTree([]byte(body))
		if err != nil || slow != fast {
			t.Errorf("seed %d: scanner %+v, etree %+v %v", i, fast, slow, err)
		}
	}
}

// BenchmarkParseRequest compares the scanner with etree on Outlook's request.
func BenchmarkParseRequest(b *testing.B) {
	body := []byte(autodiscoverRequest("alice@qq.com"))
	for _, p := range []struct {
		name  string
		parse func([]byte) (request, error)
	}{{"scan", parseRequest}, {"etree", parseRequestTree}} {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if req, err := p.parse(body); err != nil || !strings.HasPrefix(req.EMailAddress, "alice") {
					b.Fatal(req, err)
				}
			}
		})
	}
}
