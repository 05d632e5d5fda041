package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/mailconf/mailconf/autoconfig"
	"github.com/mailconf/mailconf/httpserver"
	"github.com/mailconf/mailconf/internal/logbuf"
)

// shutdownGrace bounds how long requests in flight may take after SIGTERM.
const shutdownGrace = 10 * time.Second

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "Serve mail client configuration. Without -config the built-in QQ Mail\nconfiguration (qq.com, foxmail.com) is served.", stderr)
	configPath := fs.String("config", "", "configuration `file` (YAML); empty serves the built-in QQ Mail configuration")
	httpAddr := fs.String("http", ":8080", "plain HTTP listen `address` for autoconfig and Autodiscover; empty disables")
	logFormat := fs.String("log-format", "text", "log `format`: text or json")
	logLevel := fs.String("log-level", "info", "minimum log `level`: debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Log lines are batched so a busy server does not make a write call per request;
	// they reach stderr within logbuf.DefaultInterval, and all of them before exit.
	logOut := logbuf.New(stderr, 0, 0)
	defer logOut.Close()
	log, err := newLogger(logOut, *logFormat, *logLevel)
	if err != nil {
		fs.Usage()
		return err
	}

	cat, err := loadCatalog(*configPath)
	if err != nil {
		return fmt.Errorf("load configuration:\n%w", err)
	}
	for _, w := range cat.Warnings {
		log.Warn("configuration", slog.String("problem", w.String()))
	}
	log.Info("configuration loaded", slog.String("source", cat.Source),
		slog.Int("providers", len(cat.Providers)), slog.Int("domains", len(cat.Domains())))

	ac, err := autoconfig.New(cat)
	if err != nil {
		return err
	}
	if *httpAddr == "" {
		return errors.New("nothing to serve: -http is empty")
	}
	handler := httpserver.NewHandler(log, ac)
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	log.Info("listening", slog.String("proto", "http"), slog.String("addr", ln.Addr().String()))
	srv := httpserver.NewServer(handler, log)
	err = httpserver.Serve(ctx, srv, ln, shutdownGrace)
	log.Info("stopped")
	return err
}

// newLogger returns a slog logger writing to w in the given format at the given level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
