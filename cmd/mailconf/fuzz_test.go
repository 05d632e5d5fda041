package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/mailconf/mailconf/httpserver"
)

// FuzzHTTP sends arbitrary requests through every HTTP endpoint of `mailconf serve` on
// the example configuration (several providers, %EMAILDOMAIN% hosts, calendars,
// contacts, MTA-STS, domains from a file and SQL). Whatever comes in, the answer is
// never a 500; XML and JSON answers are well formed; HTML answers carry no script,
// event handler or javascript: URL (nothing from the request is reflected raw); and
// the request is logged in one line that holds no "@".
func FuzzHTTP(f *testing.F) {
	seeds := []struct{ method, target, host, header, body string }{
		{"GET", "/mail/config-v1.1.xml?emailaddress=alice%40example.com", "autoconfig.example.com", "", ""},
		{"GET", "/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=a@example.net", "example.net", "", ""},
		{"GET", "/v1.1/mail/example.com", "autoconfig.example.com", "", ""},
		{"POST", "/autodiscover/autodiscover.xml", "autodiscover.example.com", "Content-Type: text/xml",
			`<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`},
		{"POST", "/Autodiscover/Autodiscover.xml", "autodiscover.example.com", "Content-Type: text/xml",
			`<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>a&lt;b@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>`},
		{"GET", "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=AutodiscoverV1", "autodiscover.example.com", "", ""},
		{"GET", "/setup?emailaddress=%3Cscript%3E%40example.com&lang=zh", "autoconfig.example.com", "Accept-Language: zh-CN", ""},
		{"GET", "/setup?emailaddress=%22onload%3D%22x%40example.com", "autoconfig.example.com", "", ""},
		{"GET", "/email.mobileconfig?emailaddress=bob%40example.net", "autoconfig.example.net", "", ""},
		{"GET", "/.well-known/caldav", "example.com", "", ""},
		{"GET", "/.well-known/mta-sts.txt", "mta-sts.example.com", "", ""},
		{"GET", "/", "<b>x</b>", "", ""},
		{"HEAD", "/%40%2540", "autoconfig.example.com", "", ""},
		{"OPTIONS", "*", "autoconfig.example.com", "", ""},
	}
	for _, s := range seeds {
		f.Add(s.method, s.target, s.host, s.header, []byte(s.body))
	}
	h, logs := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, method, target, host, header string, body []byte) {
		raw := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n"
		if header != "" {
			raw += header + "\r\n"
		}
		raw += "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body)
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 before any handler sees it
		}
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		logs.reset()
		h.ServeHTTP(w, r)
		if w.Code >= 500 || w.Code == http.StatusTooManyRequests {
			t.Fatalf("%d for %q:\n%s", w.Code, raw, w.Body)
		}
		if line := logs.String(); strings.Count(line, "\n") != 1 || strings.Contains(line, "@") {
			t.Fatalf("want one request line without an @ for %q:\n%s", raw, line)
		}
		if r.Method == http.MethodHead || w.Body.Len() == 0 {
			return
		}
		mediaType, _, _ := mime.ParseMediaType(w.Header().Get("Content-Type"))
		switch {
		case strings.HasSuffix(mediaType, "xml") || mediaType == "application/x-apple-aspen-config":
			// The example configuration signs no profiles: they go out as plain XML.
			if err := wellFormedXML(w.Body.Bytes()); err != nil {
				t.Fatalf("malformed XML for %q: %v\n%s", raw, err, w.Body)
			}
		case mediaType == "application/json":
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("malformed JSON for %q:\n%s", raw, w.Body)
			}
		case mediaType == "text/html":
			if err := inertHTML(w.Body.Bytes()); err != nil {
				t.Fatalf("%v in the page for %q:\n%s", err, raw, w.Body)
			}
		}
	})
}

// fuzzHandler builds the HTTP handler of `mailconf serve` on the example configuration,
// with the request log going to the buffer it returns.
func fuzzHandler(f *testing.F) (http.Handler, *lockedBuffer) {
	fs, fp := newServeFlags(io.Discard)
	if err := parseFlags(fs, []string{"-config", "../../deploy/mailconf.example.yaml", "-dns", "", "-admin", ""}); err != nil {
		f.Fatal(err)
	}
	logs := &lockedBuffer{}
	handler := slog.NewTextHandler(logs, nil)
	d, err := newDaemon(*fp, slog.New(handler), httpserver.NewRequestLog(logs, handler))
	if err != nil {
		f.Fatal(err)
	}
	// Every fuzzed request comes from one address: without this the example's rate
	// limit would answer nearly all of them with 429 before any endpoint saw them.
	d.http.SetClientOptions(d.config.HTTP.TrustedProxies, 0, 0)
	return d.http, logs
}

// wellFormedXML reads b to the end with encoding/xml, which refuses text that is not
// well-formed XML 1.0.
func wellFormedXML(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		if _, err := d.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// inertHTML fails on anything in a page that would run script: a script, iframe,
// object or embed element, an on* attribute or a javascript: URL.
func inertHTML(b []byte) error {
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if errors.Is(z.Err(), io.EOF) {
				return nil
			}
			return z.Err()
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "object", "embed":
				return errors.New("<" + tok.Data + ">")
			}
			for _, a := range tok.Attr {
				if strings.HasPrefix(strings.ToLower(a.Key), "on") {
					return errors.New("attribute " + a.Key)
				}
				if strings.HasPrefix(strings.ToLower(urlScheme(a.Val)), "javascript:") {
					return errors.New("javascript: URL")
				}
			}
		}
	}
}

// urlScheme returns an attribute value as a browser reads its scheme: without the
// leading spaces and control characters, and without tabs and line breaks anywhere
// (WHATWG URL parsing), so "java&#9;script:" counts as javascript:.
func urlScheme(v string) string {
	v = strings.TrimLeft(v, "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\v\f\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f ")
	return strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(v)
}
