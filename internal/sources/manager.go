package sources

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/mailconf/mailconf"
)

// Status is how one source fares.
type Status struct {
	Provider mailconf.Domain
	Source   string    // the source as mailconf.DomainSource.String names it
	Loaded   bool      // it has been read whole at least once
	Domains  int       // in its last good list
	LastOK   time.Time // when it was last read whole
	Err      error     // why the last read failed; nil when it worked
	Errors   uint64    // failed reads since start
}

// Manager reads the sources of a catalog's providers, when they are due and on demand,
// and keeps each source's last good list: a source that fails (a database down, a
// missing file, a bad line) goes on contributing what it listed before.
type Manager struct {
	// Timeout bounds one read of one source. Zero means DefaultTimeout.
	Timeout time.Duration
	// Load reads a source; nil means the package's Load. Tests replace it.
	Load func(ctx context.Context, p *mailconf.Provider, s mailconf.DomainSource) ([]mailconf.Domain, error)

	mu     sync.Mutex
	states map[sourceKey]*state
	due    map[mailconf.Domain]time.Time // provider → when its sources are next read
}

// DefaultTimeout bounds one read of one source.
const DefaultTimeout = 30 * time.Second

// retryUnread is how soon a source never read whole is tried again.
const retryUnread = 5 * time.Second

// sourceKey identifies a source across reloads: the same provider listing the same
// source (by its description and query) keeps its last good list.
type sourceKey struct {
	provider mailconf.Domain
	desc     string
}

func keyOf(p *mailconf.Provider, s mailconf.DomainSource) sourceKey {
	k := sourceKey{provider: p.ID, desc: s.String()}
	if s.SQL != nil {
		k.desc += "\x00" + s.SQL.DSN + "\x00" + s.SQL.Query
	}
	return k
}

type state struct {
	status Status
	list   []mailconf.Domain
	seen   bool        // listed by the current catalog
	file   os.FileInfo // a file source's file when list was read
}

// unchanged reports whether a file source's file is the one last read whole: the same
// file (device and inode), size and modification time. A timed refresh then keeps the
// list without reading a hundred thousand lines again; a forced one (SIGHUP) reads.
func (st *state) unchanged(fi os.FileInfo) bool {
	return st.file != nil && fi != nil && os.SameFile(st.file, fi) && st.file.Size() == fi.Size() && st.file.ModTime().Equal(fi.ModTime())
}

// Refresh reads the sources that are due (all of them with force) for the providers of
// cat, and returns every provider's sourced domains: each source's newest good list,
// concatenated, and whether any list changed. Sources of providers no longer in cat are
// forgotten.
func (m *Manager) Refresh(ctx context.Context, cat *mailconf.Catalog, now time.Time, force bool) (lists map[mailconf.Domain][]mailconf.Domain, changed bool) {
	timeout := m.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	load := m.Load
	if load == nil {
		load = Load
	}
	m.mu.Lock()
	if m.states == nil {
		m.states = map[sourceKey]*state{}
		m.due = map[mailconf.Domain]time.Time{}
	}
	for _, st := range m.states {
		st.seen = false
	}
	type job struct {
		p   *mailconf.Provider
		src mailconf.DomainSource
		st  *state
	}
	var jobs []job
	for _, p := range cat.Providers {
		due := force || !now.Before(m.due[p.ID])
		if due && len(p.DomainsFrom) > 0 {
			m.due[p.ID] = now.Add(p.DomainsRefresh)
		}
		for _, s := range p.DomainsFrom {
			k := keyOf(p, s)
			st := m.states[k]
			if st == nil {
				st = &state{status: Status{Provider: p.ID, Source: s.String()}}
				m.states[k] = st
				changed = true // a source new to the configuration
			}
			st.seen = true
			if due || !st.status.Loaded {
				jobs = append(jobs, job{p, s, st})
			}
		}
	}
	for k, st := range m.states {
		if !st.seen {
			delete(m.states, k)
			changed = true
		}
	}
	m.mu.Unlock()

	// Read outside the lock, one source at a time: a refresh is rare and sources are few.
	for _, j := range jobs {
		var fi os.FileInfo
		if j.src.File != "" {
			// Taken before reading: a file changed during the read differs next time.
			fi, _ = os.Stat(j.src.FilePath())
			if !force && j.st.status.Loaded && j.st.status.Err == nil && j.st.unchanged(fi) {
				m.mu.Lock()
				j.st.status.LastOK = now
				m.mu.Unlock()
				continue
			}
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		list, err := load(rctx, j.p, j.src)
		cancel()
		m.mu.Lock()
		if err != nil {
			j.st.status.Err = err
			j.st.status.Errors++
			j.st.file = nil
		} else {
			if !slices.Equal(list, j.st.list) {
				changed = true
			}
			j.st.list = list
			j.st.file = fi
			j.st.status = Status{Provider: j.p.ID, Source: j.src.String(), Loaded: true, Domains: len(list), LastOK: now, Errors: j.st.status.Errors}
		}
		m.mu.Unlock()
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	// A source never read whole is tried again soon rather than at the next refresh.
	for _, j := range jobs {
		if !j.st.status.Loaded {
			if soon := now.Add(min(j.p.DomainsRefresh, retryUnread)); soon.Before(m.due[j.p.ID]) {
				m.due[j.p.ID] = soon
			}
		}
	}
	lists = map[mailconf.Domain][]mailconf.Domain{}
	for _, p := range cat.Providers {
		for _, s := range p.DomainsFrom {
			lists[p.ID] = append(lists[p.ID], m.states[keyOf(p, s)].list...)
		}
	}
	return lists, changed
}

// Statuses returns how every source fares, by provider and source.
func (m *Manager) Statuses() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.states))
	for _, st := range m.states {
		out = append(out, st.status)
	}
	slices.SortFunc(out, func(a, b Status) int {
		if c := a.Provider.Compare(b.Provider); c != 0 {
			return c
		}
		return compareStrings(a.Source, b.Source)
	})
	return out
}

// NextDue returns when the next source is due, or the zero time when none is.
func (m *Manager) NextDue() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	var next time.Time
	for _, t := range m.due {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	return next
}

// Pending reports, for readiness, the sources not yet read whole once.
func (m *Manager) Pending() []string {
	var out []string
	for _, s := range m.Statuses() {
		if !s.Loaded {
			msg := fmt.Sprintf("%s: %s not read yet", s.Provider, s.Source)
			if s.Err != nil {
				msg += ": " + s.Err.Error()
			}
			out = append(out, msg)
		}
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
