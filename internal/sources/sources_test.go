package sources

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailconf/mailconf"
)

// catalog is a provider with per-domain host names whose domains come from srcs.
func catalog(t *testing.T, srcs string) *mailconf.Catalog {
	t.Helper()
	cat, err := mailconf.Parse("sources.yaml", []byte(`
providers:
  - id: hoster.example
    display_name: Hoster
    domains: [hoster.example]
    domains_from: `+srcs+`
    incoming: [{type: imap, hostname: "imap.%EMAILDOMAIN%", port: 993, socket: SSL}]
    outgoing: [{hostname: "smtp.%EMAILDOMAIN%", port: 465, socket: SSL}]
  - id: other.example
    display_name: Other
    domains: [other.example, taken.example]
    incoming: [{type: imap, hostname: imap.other.example, port: 993, socket: SSL}]
    outgoing: [{hostname: smtp.other.example, port: 465, socket: SSL}]
`))
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func names(ds []mailconf.Domain) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "domains.txt")
	cat := catalog(t, "[{file: "+path+"}]")
	p := cat.Providers[0]
	for _, tc := range []struct {
		content, want, err string
	}{
		{"# customers\none.example\n\n  Two.Example.  # trailing comment\nbücher.example\n", "one.example two.example xn--bcher-kva.example", ""},
		{"one.example\nnot a domain\n", "", `domains.txt:2: "not a domain": `},
		// A valid name, but too long to publish _autodiscover._tcp.<domain> under it.
		{"one.example\n" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 40) + ".example\n", "", `too long to publish`},
		{"ok.example\n<script>.example\n", "", `domains.txt:2: "<script>.example"`},
	} {
		writeFile(t, path, tc.content)
		got, err := Load(context.Background(), p, p.DomainsFrom[0])
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrSource) {
				t.Errorf("%q: error %v, want one with %q", tc.content, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(names(got), " ") != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.content, names(got), err, tc.want)
		}
	}
	for _, bad := range []string{filepath.Join(dir, "missing.txt"), dir} {
		if _, err := Load(context.Background(), p, mailconf.DomainSource{File: bad}); err == nil {
			t.Errorf("%s: read", bad)
		}
	}
}

// TestManager: edits appear after a refresh; a deleted file or a bad line keeps the last
// good list and is reported; a domain another provider has refuses the change; sources
// are due by their provider's refresh interval.
func TestManager(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "domains.txt")
	writeFile(t, path, "a.example\nb.example\n")
	cat := catalog(t, "[{file: "+path+"}]\n    domains_refresh: 10s")
	var m Manager
	now := time.Unix(1000, 0)
	refresh := func(force bool) (*mailconf.Catalog, bool) {
		t.Helper()
		lists, changed := m.Refresh(context.Background(), cat, now, force)
		served, err := cat.WithSourcedDomains(lists)
		if err != nil {
			t.Fatal(err)
		}
		return served, changed
	}
	served, changed := refresh(false)
	if !changed || strings.Join(names(served.DomainsOf(served.Providers[0])), " ") != "hoster.example a.example b.example" {
		t.Fatalf("first read: %v %v", changed, names(served.Domains()))
	}
	if _, p, ok := served.LookupName("b.example"); !ok || p.ID.String() != "hoster.example" {
		t.Error("b.example not served")
	}
	if len(m.Pending()) != 0 {
		t.Errorf("pending %v", m.Pending())
	}

	writeFile(t, path, "a.example\nc.example\n")
	if _, changed := refresh(false); changed {
		t.Error("read again before the refresh interval")
	}
	now = now.Add(10 * time.Second)
	served, changed = refresh(false)
	if _, _, ok := served.LookupName("c.example"); !changed || !ok {
		t.Error("an edit did not appear after the refresh interval")
	}
	if _, _, ok := served.LookupName("b.example"); ok {
		t.Error("a removed domain is still served")
	}

	// An untouched file is not read again on a timed refresh, only when forced.
	var reads int
	m.Load = func(ctx context.Context, p *mailconf.Provider, s mailconf.DomainSource) ([]mailconf.Domain, error) {
		reads++
		return Load(ctx, p, s)
	}
	now = now.Add(10 * time.Second)
	if _, changed := refresh(false); changed || reads != 0 {
		t.Errorf("an unchanged file was read again (%d reads, changed %v)", reads, changed)
	}
	if refresh(true); reads != 1 {
		t.Errorf("a forced refresh read %d times", reads)
	}
	writeFile(t, path, "a.example\nc.example\nd.example\n")
	now = now.Add(10 * time.Second)
	if _, changed := refresh(false); !changed || reads != 2 {
		t.Errorf("an edited file was not read (%d reads, changed %v)", reads, changed)
	}
	writeFile(t, path, "a.example\nc.example\n")
	refresh(true)
	m.Load = nil

	for _, broken := range []func(){
		func() { os.Remove(path) },
		func() { writeFile(t, path, "a.example\nbad domain!\n") },
	} {
		broken()
		served, changed = refresh(true)
		if _, _, ok := served.LookupName("c.example"); changed || !ok {
			t.Errorf("a failing source lost its last good list (changed %v)", changed)
		}
		st := m.Statuses()[0]
		if st.Err == nil || !st.Loaded || st.Domains != 2 || st.Errors == 0 {
			t.Errorf("status %+v", st)
		}
	}

	// A domain another provider serves refuses the whole change, naming both.
	writeFile(t, path, "a.example\ntaken.example\n")
	lists, _ := m.Refresh(context.Background(), cat, now, true)
	_, err := cat.WithSourcedDomains(lists)
	var ce *mailconf.ConflictError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "hoster.example") || !strings.Contains(err.Error(), "other.example") {
		t.Errorf("conflict: %v", err)
	}
}

// TestSQLite reads a real SQLite database (cgo-free ncruces/go-sqlite3).
func TestSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mail.db")
	exec := func(stmt string) {
		t.Helper()
		conn, err := sql.Open("sqlite3", db)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := conn.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE virtual_domains (domain TEXT, active INTEGER)")
	exec("INSERT INTO virtual_domains VALUES ('one.example', 1), ('two.example', 1), ('gone.example', 0)")
	testSQL(t, "sqlite", db, exec, func() { os.Remove(db) })
}

// TestDSNFromEnvironment reads the connection string from dsn_env each time: a
// changed value is used at the next refresh, and an unset one is an error that names
// the variable and keeps the last list.
func TestDSNFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.db", "b.db"} {
		conn, err := sql.Open("sqlite3", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec("CREATE TABLE d (domain TEXT); INSERT INTO d VALUES ('" + strings.TrimSuffix(name, ".db") + ".example')"); err != nil {
			t.Fatal(err)
		}
		conn.Close()
	}
	cat := catalog(t, `[{sql: {driver: sqlite, dsn_env: MAILCONF_TEST_DSN, query: "SELECT domain FROM d"}}]`)
	t.Setenv("MAILCONF_TEST_DSN", "") // restored when the test ends
	var m Manager
	m.Timeout = 5 * time.Second
	for _, tc := range []struct {
		dsn     string // "" unsets the variable
		want    string
		wantErr string
	}{
		{dsn: filepath.Join(dir, "a.db"), want: "a.example"},
		{dsn: filepath.Join(dir, "b.db"), want: "b.example"},
		{want: "b.example", wantErr: "dsn_env: MAILCONF_TEST_DSN is not set"},
	} {
		if tc.dsn != "" {
			t.Setenv("MAILCONF_TEST_DSN", tc.dsn)
		} else {
			os.Unsetenv("MAILCONF_TEST_DSN")
		}
		lists, _ := m.Refresh(context.Background(), cat, time.Now(), true)
		err := m.Statuses()[0].Err
		if got := strings.Join(names(lists[cat.Providers[0].ID]), " "); got != tc.want {
			t.Errorf("DSN %q: domains %q, want %q", tc.dsn, got, tc.want)
		}
		if (err == nil) != (tc.wantErr == "") || err != nil && !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("DSN %q: error %v, want %q", tc.dsn, err, tc.wantErr)
		}
	}
}

// testSQL runs the checks common to every database: domains appear, a row added
// appears after a refresh, a bad row is reported with its value, a database that went
// away keeps the last list.
func testSQL(t *testing.T, driver, dsn string, exec func(string), stop func()) {
	t.Helper()
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	writeFile(t, dsnFile, dsn+"\n")
	cat := catalog(t, "[{sql: {driver: "+driver+", dsn_file: "+dsnFile+", query: \"SELECT domain FROM virtual_domains WHERE active = 1 ORDER BY domain\"}}]")
	var m Manager
	m.Timeout = 5 * time.Second
	get := func() ([]string, error) {
		t.Helper()
		lists, _ := m.Refresh(context.Background(), cat, time.Now(), true)
		return names(lists[cat.Providers[0].ID]), m.Statuses()[0].Err
	}
	if got, err := get(); err != nil || strings.Join(got, " ") != "one.example two.example" {
		t.Fatalf("domains %v, %v", got, err)
	}
	exec("INSERT INTO virtual_domains VALUES ('three.example', 1)")
	if got, _ := get(); !slices.Contains(got, "three.example") {
		t.Errorf("a row added did not appear: %v", got)
	}
	exec("INSERT INTO virtual_domains VALUES ('bad value!', 1)")
	got, err := get()
	if err == nil || !strings.Contains(err.Error(), `"bad value!"`) || !strings.Contains(err.Error(), "row 1") {
		t.Errorf("a bad row: %v", err)
	}
	if len(got) != 3 {
		t.Errorf("a bad row dropped the last good list: %v", got)
	}
	exec("DELETE FROM virtual_domains WHERE domain = 'bad value!'")
	if _, err := get(); err != nil {
		t.Fatal(err)
	}
	stop()
	got, err = get()
	if err == nil || len(got) != 3 {
		t.Errorf("with the database gone: %v, %v (want an error and the last 3 domains)", got, err)
	}
	if strings.Contains(fmt.Sprint(err), "secret-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
}

// TestPostgreSQL starts a throwaway PostgreSQL cluster (Debian's postgresql package)
// and reads domains from it through pgx.
func TestPostgreSQL(t *testing.T) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if len(bins) == 0 {
		if os.Getenv("MAILCONF_REQUIRE_TOOLS") != "" {
			t.Fatal("PostgreSQL is not installed")
		}
		t.Skip("PostgreSQL is not installed")
	}
	bin := bins[len(bins)-1]
	// initdb refuses to run as root: run the server as the postgres user then.
	dir, asRoot := serverDir(t, "postgres")
	run := func(args ...string) *exec.Cmd { return exec.Command(args[0], args[1:]...) }
	if asRoot {
		run = func(args ...string) *exec.Cmd {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		}
	}
	data, pw := filepath.Join(dir, "data"), filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("secret-pw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(filepath.Join(bin, "initdb"), "-D", data, "-A", "scram-sha-256", "-U", "mailconf", "--pwfile="+pw).CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	if out, err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-w", "-l", filepath.Join(dir, "log"), "-o", "-h 127.0.0.1 -p "+port+" -k "+dir, "start").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			run(filepath.Join(bin, "pg_ctl"), "-D", data, "-w", "-m", "fast", "stop").Run()
		}
	}
	t.Cleanup(stop)
	dsn := "postgres://mailconf:secret-pw@127.0.0.1:" + port + "/postgres?sslmode=disable"
	conn, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	exec := func(stmt string) {
		t.Helper()
		if _, err := conn.Exec(strings.ReplaceAll(stmt, "active INTEGER", "active integer")); err != nil {
			t.Fatal(err)
		}
	}
	exec("CREATE TABLE virtual_domains (domain text, active integer)")
	exec("INSERT INTO virtual_domains VALUES ('one.example', 1), ('two.example', 1), ('gone.example', 0)")
	testSQL(t, "postgres", dsn, exec, stop)
}

// serverDir returns a directory for a database server's files. Database servers will
// not run as root: when the tests do, the directory is given to account, the server's
// own user on Debian, and asRoot is true (the test skips if there is no such user).
func serverDir(t *testing.T, account string) (dir string, asRoot bool) {
	t.Helper()
	dir = t.TempDir()
	if os.Geteuid() != 0 {
		return dir, false
	}
	u, err := user.Lookup(account)
	if err != nil {
		t.Skipf("running as root without a %s user", account)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	os.Chmod(filepath.Dir(dir), 0o755)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir, true
}

// freePort returns a loopback TCP port that was free a moment ago, for a server that
// must be told its port.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestMariaDB starts a throwaway MariaDB server (Debian's mariadb-server package) and
// reads domains from it through go-sql-driver/mysql, as a user with a password.
func TestMariaDB(t *testing.T) {
	mariadbd, err := exec.LookPath("mariadbd")
	if err != nil {
		// Debian keeps the server in /usr/sbin, which a user's PATH may leave out.
		if _, serr := os.Stat("/usr/sbin/mariadbd"); serr != nil {
			if os.Getenv("MAILCONF_REQUIRE_TOOLS") != "" {
				t.Fatal("MariaDB is not installed")
			}
			t.Skip("MariaDB is not installed")
		}
		mariadbd = "/usr/sbin/mariadbd"
	}
	// mariadbd will not run as root unless told to; run it as the mysql user then.
	dir, asRoot := serverDir(t, "mysql")
	owner := []string{}
	if asRoot {
		owner = []string{"--user=mysql"}
	}
	data := filepath.Join(dir, "data")
	install := exec.Command("mariadb-install-db", append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-test-db"}, owner...)...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}
	port := freePort(t)
	server := exec.Command(mariadbd, append([]string{"--no-defaults", "--datadir=" + data, "--port=" + port,
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "sock"), "--skip-log-bin",
		"--log-error=" + filepath.Join(dir, "error.log")}, owner...)...)
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { server.Wait(); close(exited) }()
	stop := func() {
		server.Process.Signal(syscall.SIGTERM) // a clean shutdown
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			server.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)

	// The install leaves root@127.0.0.1 without a password: make the user mailconf
	// reads as, with one.
	root, err := sql.Open("mysql", "root@tcp(127.0.0.1:"+port+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for deadline := time.Now().Add(20 * time.Second); root.Ping() != nil; time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			deadline = time.Time{} // it stopped (its port taken, say): no use waiting
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("MariaDB did not start:\n%s", log)
		}
	}
	for _, stmt := range []string{
		"CREATE DATABASE mailconf",
		"CREATE USER 'mailconf'@'127.0.0.1' IDENTIFIED BY 'secret-pw'",
		"GRANT ALL ON mailconf.* TO 'mailconf'@'127.0.0.1'",
		"CREATE TABLE mailconf.virtual_domains (domain varchar(255), active integer)",
		"INSERT INTO mailconf.virtual_domains VALUES ('one.example', 1), ('two.example', 1), ('gone.example', 0)",
	} {
		if _, err := root.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	dsn := "mailconf:secret-pw@tcp(127.0.0.1:" + port + ")/mailconf"
	conn, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	testSQL(t, "mysql", dsn, func(stmt string) {
		t.Helper()
		if _, err := conn.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}, stop)
}
