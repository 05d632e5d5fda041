// Package sources reads the lists of domains providers serve from outside the
// configuration: text files and database queries (PostgreSQL, MySQL/MariaDB, SQLite).
package sources

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	// Database drivers, cgo-free: pgx (the maintained PostgreSQL driver),
	// go-sql-driver/mysql (MySQL and MariaDB), ncruces/go-sqlite3 (SQLite compiled to
	// WebAssembly and run by wazero: no cgo, and half the build time of the C-to-Go port).
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/mailconf/mailconf"
)

// MaxFileSize is the largest domain list file read, in bytes: a million domains.
const MaxFileSize = 64 << 20

// maxLineLen bounds a line of a domain list.
const maxLineLen = 1024

// ErrSource is wrapped by every error of a source that could not be read whole.
var ErrSource = errors.New("domain source")

// Load reads one source and returns its domains, in the order listed, each checked
// with p.CheckDomain. A source with any bad domain is refused whole, with the line or
// row and the offending value (quoted), so that a mistake in it never half-applies.
func Load(ctx context.Context, p *mailconf.Provider, s mailconf.DomainSource) ([]mailconf.Domain, error) {
	switch {
	case s.File != "":
		return loadFile(p, s.FilePath())
	case s.SQL != nil:
		return loadSQL(ctx, p, &s)
	}
	return nil, fmt.Errorf("%w: neither file nor sql", ErrSource)
}

// parseDomain checks one listed domain.
func parseDomain(p *mailconf.Provider, text string) (mailconf.Domain, error) {
	d, err := mailconf.ParseDomain(text)
	if err != nil {
		return d, err
	}
	return d, p.CheckDomain(d)
}

// quote shows a value from a source in a message: quoted, cut when long.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "..."
	}
	return fmt.Sprintf("%q", s)
}

func loadFile(p *mailconf.Provider, path string) ([]mailconf.Domain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSource, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrSource, path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("%w: %s has %d bytes, more than the %d allowed", ErrSource, path, st.Size(), MaxFileSize)
	}
	var out []mailconf.Domain
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineLen)
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		if i := bytes.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		d, err := parseDomain(p, string(text))
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %s: %s", ErrSource, path, line, quote(string(text)), message(err))
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSource, path, err)
	}
	return out, nil
}

// message is an error's text without the package prefixes of its sentinels.
func message(err error) string {
	s := err.Error()
	for _, prefix := range []string{mailconf.ErrBadDomain.Error() + ": "} {
		s = strings.ReplaceAll(s, prefix, "")
	}
	return s
}

// driverNames maps the configuration's driver names to database/sql's.
var driverNames = map[string]string{"postgres": "pgx", "mysql": "mysql", "sqlite": "sqlite3"}

// DSN returns a source's connection string: as written, or read from its file or its
// environment variable (read each time, so that rotated credentials are picked up).
func DSN(s *mailconf.DomainSource) (string, error) {
	q := s.SQL
	switch {
	case q.DSNFile != "":
		b, err := os.ReadFile(s.DSNFilePath())
		if err != nil {
			return "", fmt.Errorf("%w: dsn_file: %w", ErrSource, err)
		}
		return strings.TrimSpace(string(b)), nil
	case q.DSNEnv != "":
		v, ok := os.LookupEnv(q.DSNEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("%w: dsn_env: %s is not set", ErrSource, q.DSNEnv)
		}
		return v, nil
	}
	return q.DSN, nil
}

func loadSQL(ctx context.Context, p *mailconf.Provider, s *mailconf.DomainSource) ([]mailconf.Domain, error) {
	q := s.SQL
	dsn, err := DSN(s)
	if err != nil {
		return nil, err
	}
	// Errors of the driver can quote the connection string (and a password in it):
	// every message leaves this function through redact.
	redact := func(err error) error {
		s := err.Error()
		if dsn != "" {
			s = strings.ReplaceAll(s, dsn, "<dsn>")
		}
		if pw := password(dsn); pw != "" {
			s = strings.ReplaceAll(s, pw, "<password>")
		}
		return fmt.Errorf("%w: %s: %s", ErrSource, q.Driver, s)
	}
	db, err := sql.Open(driverNames[q.Driver], dsn)
	if err != nil {
		return nil, redact(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	rows, err := db.QueryContext(ctx, q.Query)
	if err != nil {
		return nil, redact(err)
	}
	defer rows.Close()
	var out []mailconf.Domain
	for row := 1; rows.Next(); row++ {
		var v sql.NullString
		if err := rows.Scan(&v); err != nil {
			return nil, redact(fmt.Errorf("row %d: %w", row, err))
		}
		if !v.Valid {
			return nil, fmt.Errorf("%w: %s: row %d: NULL is not a domain", ErrSource, q.Driver, row)
		}
		d, err := parseDomain(p, strings.TrimSpace(v.String))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: row %d: %s: %s", ErrSource, q.Driver, row, quote(v.String), message(err))
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, redact(err)
	}
	return out, nil
}

// password returns the password in a URL-style or MySQL-style connection string, "" if
// none, so that it can be blotted out of messages.
func password(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		dsn = dsn[i+3:]
	}
	at := strings.LastIndexByte(dsn, '@')
	if at < 0 {
		for _, f := range strings.Fields(dsn) { // key=value form (PostgreSQL)
			if v, ok := strings.CutPrefix(f, "password="); ok {
				return v
			}
		}
		return ""
	}
	if _, pw, ok := strings.Cut(dsn[:at], ":"); ok {
		return pw
	}
	return ""
}
