package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/mailconf/mailconf/dnssrv/zone"
)

// runRecords prints the DNS records mailconf serves, as zone files, so an admin can copy
// them into the zones their DNS provider hosts instead of delegating to mailconf.
func runRecords(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("records", "Print the DNS zones mailconf serves for every configured domain (SOA, NS,\nSRV, and A/AAAA when dns.addresses is set), in master-file format.", stderr)
	configPath := fs.String("config", "", "configuration `file` (YAML); empty uses the built-in QQ Mail configuration")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cat, err := loadCatalog(*configPath)
	if err != nil {
		return err
	}
	if cat, err = withSources(ctx, cat, stderr); err != nil {
		return err
	}
	set, err := zone.Build(cat)
	if err != nil {
		return err
	}
	set.SetSerial(uint32(time.Now().Unix()))
	for i, z := range set.Zones() {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprint(stdout, z.Text())
	}
	return nil
}
