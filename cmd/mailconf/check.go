package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/check"
)

// errNotWorking is returned when some client does not get working settings.
var errNotWorking = errors.New("not every client gets working settings")

// runCheck walks the paths clients take to a domain's settings and reports what each
// finds (internal/check). Exit status: 0 when every client gets working settings, 1
// when one does not, 2 on a usage error.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const synopsis = "Check a domain the way every mail client sees it, from the outside: autoconfig,\nAutodiscover, SRV records, the Apple profile and setup page, certificates and DNS\nnames; with -connect the mail servers too. Each step is judged with the clients'\nown rules and every failure gets a fix. For a domain alone, postmaster@ the domain\nis asked for. Exit status: 0 when every client gets working settings, 1 when one\ndoes not, 2 on a usage error. docs/check.md describes every step."
	fs := newFlagSet("check", synopsis, stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mailconf check [flags] ADDRESS|DOMAIN\n\n%s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	resolver := fs.String("resolver", "", "DNS server `address` (host or host:port) to ask instead of the system's")
	var connectTo []check.ConnectTo
	fs.Func("connect-to", "connect to HOST2:PORT2 for HOST1:PORT1, keeping the Host header and TLS name (curl's syntax, `HOST1:PORT1:HOST2:PORT2`; empty fields match any or keep the original); repeatable, the first match wins", func(s string) error {
		c, err := check.ParseConnectTo(s)
		if err == nil {
			connectTo = append(connectTo, c)
		}
		return err
	})
	var caFiles []string
	fs.Func("ca", "PEM `file` of certificate authorities to trust besides the system's; repeatable", func(s string) error {
		caFiles = append(caFiles, s)
		return nil
	})
	stepTimeout := fs.Duration("timeout", 10*time.Second, "time allowed for each network step")
	totalTimeout := fs.Duration("total-timeout", time.Minute, "time allowed for the whole run")
	connect := fs.Bool("connect", false, "also open each mail server port and complete the TLS handshake (or STARTTLS), without logging in")
	configPath := fs.String("config", "", "configuration `file` the published settings must match")
	lang := fs.String("lang", "", "report `language`: en or zh-CN (default: from LC_ALL, LC_MESSAGES or LANG)")
	asJSON := fs.Bool("json", false, "write the report as JSON (docs/check.md)")

	// The target may come before or after the flags.
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	var target string
	if fs.NArg() > 0 {
		target = fs.Arg(0)
		if err := parseFlags(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	usageErr := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "mailconf check: "+format+"\n", a...)
		return errUsage
	}
	if target == "" {
		fs.Usage()
		return errUsage
	}
	o := check.Options{Target: target, Connect: *connect, StepTimeout: *stepTimeout, UserAgent: "mailconf-check/" + strings.Fields(buildVersion())[0]}
	if strings.Contains(target, "@") {
		a, err := mailconf.ParseAddress(target)
		if err != nil {
			return usageErr("%q is not an email address: %v", target, err)
		}
		o.Address, o.Domain = a, a.Domain
	} else {
		d, err := mailconf.ParseDomain(target)
		if err != nil {
			return usageErr("%q is not a domain: %v", target, err)
		}
		// Servers answer every address of a domain alike; postmaster exists for each
		// (RFC 5321 §4.5.1).
		a, err := mailconf.ParseAddress("postmaster@" + d.String())
		if err != nil {
			return usageErr("%q: %v", target, err)
		}
		o.Address, o.Domain = a, d
	}
	if *stepTimeout <= 0 || *totalTimeout <= 0 {
		return usageErr("-timeout and -total-timeout must be positive")
	}
	var ok bool
	if o.Lang, ok = reportLanguage(*lang); !ok {
		return usageErr("-lang %q: want en or zh-CN", *lang)
	}
	if *resolver != "" {
		addr := *resolver
		if _, _, err := net.SplitHostPort(addr); err != nil {
			addr = net.JoinHostPort(strings.Trim(addr, "[]"), "53")
		}
		o.Resolvers = []string{addr}
	} else {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cc.Servers) == 0 {
			return fmt.Errorf("no DNS server to ask (/etc/resolv.conf: %v): pass -resolver", err)
		}
		for _, s := range cc.Servers {
			o.Resolvers = append(o.Resolvers, net.JoinHostPort(s, cc.Port))
		}
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	for _, f := range caFiles {
		pem, err := os.ReadFile(f)
		if err != nil {
			return usageErr("-ca: %v", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return usageErr("-ca %s: no PEM certificate in it", f)
		}
	}
	o.Roots, o.ConnectTo = roots, connectTo
	if *configPath != "" {
		cat, err := loadCatalog(*configPath)
		if err != nil {
			return fmt.Errorf("-config: %w", err)
		}
		o.Config = cat
	}

	ctx, cancel := context.WithTimeout(ctx, *totalTimeout)
	defer cancel()
	report := check.Run(ctx, o)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(report); err != nil {
			return err
		}
	} else if err := report.WriteText(stdout); err != nil {
		return err
	}
	if !report.Summary.OK {
		return fmt.Errorf("%w (%s)", errNotWorking, strings.Join(report.Summary.Failed, ", "))
	}
	return nil
}

// reportLanguage picks the report's language: the flag's, else the environment's
// (LC_ALL, LC_MESSAGES, LANG, in POSIX order); Chinese for any zh locale, else English.
func reportLanguage(flagValue string) (string, bool) {
	if flagValue != "" {
		switch strings.ToLower(strings.ReplaceAll(flagValue, "_", "-")) {
		case "en":
			return "en", true
		case "zh-cn", "zh", "zh-hans":
			return "zh-CN", true
		}
		return "", false
	}
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if s := os.Getenv(v); s != "" {
			if strings.HasPrefix(strings.ToLower(s), "zh") {
				return "zh-CN", true
			}
			return "en", true
		}
	}
	return "en", true
}
