package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/internal/sources"
	"go.yaml.in/yaml/v3"
)

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", "Check a configuration file: every problem is listed with file, line and field.\nWithout -config the built-in configuration is checked.", stderr)
	configPath := fs.String("config", "", "configuration `file` (YAML); empty checks the built-in QQ Mail configuration")
	printConfig := fs.Bool("print", false, "print the configuration as it is served: defaults filled in, names normalized, built-in providers expanded")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cat, err := loadCatalog(*configPath)
	if err == nil {
		cat, err = withSources(ctx, cat, stderr)
	}
	if err != nil {
		var pl *mailconf.ProblemList
		if errors.As(err, &pl) {
			n := 0
			for _, p := range pl.Problems {
				fmt.Fprintln(stdout, p)
				if !p.Warning {
					n++
				}
			}
			return fmt.Errorf("%d problem(s) in %s", n, sourceName(*configPath))
		}
		return err
	}
	for _, w := range cat.Warnings {
		fmt.Fprintln(stderr, w)
	}
	if *printConfig {
		out, err := yaml.Marshal(cat.Config())
		if err != nil {
			return err
		}
		_, err = stdout.Write(out)
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d providers, %d domains)\n", cat.Source, len(cat.Providers), cat.NumDomains())
	return nil
}

// withSources reads the providers' domain sources once and returns the catalog with
// their domains, as serve would serve it. A source that cannot be read is an error.
func withSources(ctx context.Context, cat *mailconf.Catalog, stderr io.Writer) (*mailconf.Catalog, error) {
	var m sources.Manager
	lists, _ := m.Refresh(ctx, cat, time.Now(), true)
	var errs []error
	for _, s := range m.Statuses() {
		if s.Err != nil {
			errs = append(errs, fmt.Errorf("provider %s: %w", s.Provider, s.Err))
		} else {
			fmt.Fprintf(stderr, "provider %s: %s: %d domains\n", s.Provider, s.Source, s.Domains)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cat.WithSourcedDomains(lists)
}

// loadCatalog loads the configuration file, or the built-in one when path is empty.
// It is a variable so that tests can make a reload hang.
var loadCatalog = func(path string) (*mailconf.Catalog, error) {
	if path == "" {
		return mailconf.Default()
	}
	return mailconf.Load(path)
}

func sourceName(path string) string {
	if path == "" {
		return mailconf.BuiltinName
	}
	return path
}
