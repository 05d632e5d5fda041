package mailconf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestISPDB loads hand-written ISPDB files (testdata/ispdb): several servers, STARTTLS,
// OAuth2 authentication and its server, enable and documentation; what is not modelled is reported
// with its file and line.
func TestISPDB(t *testing.T) {
	cat, err := Parse("testdata/config.yaml", []byte("providers:\n  - ispdb: ispdb\n"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Provider{}
	for _, p := range cat.Providers {
		byID[p.ID.String()] = p
	}
	if len(byID) != 3 {
		t.Fatalf("providers %v", byID)
	}
	s := byID["several.example"]
	if got := []string{s.Domains[0].String(), s.Domains[1].String()}; got[0] != "several.example" || got[1] != "several-alias.example" {
		t.Errorf("domains %v", got)
	}
	if len(s.Incoming) != 2 || len(s.Outgoing) != 2 || s.Outgoing[1].Port != 587 || s.Outgoing[1].Socket != SocketSTARTTLS || s.Incoming[1].Type != TypePOP3 {
		t.Errorf("servers %+v %+v", s.Incoming, s.Outgoing)
	}
	if s.EnableURL == nil || s.EnableURL.String() != "https://several.example/settings/mail-apps" || s.Instructions.Default() != "Allow mail apps in the settings first." || s.Instructions.For("de") == s.Instructions.Default() {
		t.Errorf("enable %v %v", s.EnableURL, s.Instructions)
	}
	if len(s.Documentation) != 1 || s.Documentation[0].URL.String() != "https://several.example/help?app=any&lang=en" || s.Documentation[0].Description.For("zh-CN") != "设置邮件客户端" {
		t.Errorf("documentation %+v", s.Documentation)
	}
	st := byID["starttls.example"]
	want := Server{Type: TypeIMAP, Hostname: mustHost(t, "mail.starttls.example"), Port: 143, Socket: SocketSTARTTLS, Authentication: AuthMethods{AuthPasswordEncrypted}, Username: PlaceholderLocalPart}
	if !reflect.DeepEqual(st.Incoming[0], want) {
		t.Errorf("STARTTLS server %+v", st.Incoming[0])
	}
	o := byID["oauth2.example"]
	if !reflect.DeepEqual(o.Incoming[0].Authentication, AuthMethods{AuthOAuth2, AuthPasswordCleartext}) || len(o.Incoming) != 1 {
		t.Errorf("OAuth2 server %+v", o.Incoming)
	}
	if o.OAuth2 == nil || o.OAuth2.Issuer.String() != "auth.oauth2.example" || o.OAuth2.Scope != "mail" ||
		o.OAuth2.AuthURL.String() != "https://auth.oauth2.example/authorize" || o.OAuth2.TokenURL.String() != "https://auth.oauth2.example/token" {
		t.Errorf("oAuth2 %+v", o.OAuth2)
	}
	// Not modelled, so reported: with the file and the line of the element.
	for _, want := range []string{
		`testdata/ispdb/oauth2.example.xml:17: warning: <incomingServer> in <emailProvider> (type "exchange")`,
		"testdata/ispdb/oauth2.example.xml:27: warning: <webMail> in <emailProvider>",
		"testdata/ispdb/oauth2.example.xml:30: warning: <inputField> in <emailProvider>",
		"testdata/ispdb/several.example.xml:22: warning: <pop3> in <incomingServer>",
	} {
		found := false
		for _, w := range cat.Warnings {
			if strings.HasPrefix(w.String(), want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning %q in\n%v", want, cat.Warnings)
		}
	}
}

// TestISPDBErrors: mistakes in an ISPDB file are reported with its name and lines.
func TestISPDBErrors(t *testing.T) {
	_, err := Parse("testdata/config.yaml", []byte("providers:\n  - ispdb: ispdb-bad/bad.example.xml\n"))
	var pl *ProblemList
	if !errors.As(err, &pl) {
		t.Fatalf("accepted: %v", err)
	}
	for _, want := range []string{
		`testdata/ispdb-bad/bad.example.xml:8: incoming[0].port: "nine-nine-three" is not a port number`,
		`testdata/ispdb-bad/bad.example.xml:9: incoming[0].socket: "TLS" is not SSL, STARTTLS or plain`,
		`testdata/ispdb-bad/bad.example.xml:13: outgoing[0].hostname: "smtp bad example" is not a valid hostname`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem %q in\n%v", want, err)
		}
	}
	for _, bad := range []string{"ispdb-missing", "include"} {
		if _, err := Parse("testdata/config.yaml", []byte("providers:\n  - ispdb: "+bad+"\n")); err == nil {
			t.Errorf("ispdb %s accepted", bad)
		}
	}
	if _, err := Parse("testdata/config.yaml", []byte("providers:\n  - ispdb: ispdb\n    domains: [x.example]\n")); err == nil || !strings.Contains(err.Error(), "cannot also set other keys") {
		t.Errorf("ispdb with other keys: %v", err)
	}
}

// TestInclude: provider files are added after the configuration's providers, each
// checked with its own file name and line numbers.
func TestInclude(t *testing.T) {
	cat, err := Parse("testdata/config.yaml", []byte("providers: [{builtin: qq.com}]\ninclude: [include/one.yaml]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Providers) != 2 || cat.Providers[1].ID.String() != "included.example" {
		t.Fatalf("providers %v", cat.Providers)
	}
	_, err = Parse("testdata/config.yaml", []byte("providers: [{builtin: qq.com}]\ninclude: [include/*.yaml]\n"))
	if err == nil {
		t.Fatal("a bad included file was accepted")
	}
	for _, want := range []string{
		"testdata/include/two-bad.yaml:8: incoming[0].port: 99999 is outside 1..65535",
		`testdata/include/two-bad.yaml:11: outgoing[0].colour: unknown key "colour"`,
		"testdata/include/two-bad.yaml:4: domains[0]: domain included.example is already claimed by testdata/include/one.yaml",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem %q in\n%v", want, err)
		}
	}
	if cat, err := Parse("testdata/config.yaml", []byte("providers: [{builtin: qq.com}]\ninclude: [include/none-*.yaml]\n")); err != nil || len(cat.Warnings) != 1 || !strings.Contains(cat.Warnings[0].String(), "names no file") {
		t.Errorf("a pattern that matches nothing: %v %v", err, cat)
	}
}
