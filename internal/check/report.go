// Package check walks the path every kind of mail client takes to find a domain's
// settings, from the outside, judges each answer with the clients' own rules
// (internal/clientrules) and reports what works, what does not and how to fix it.
package check

import "time"

// SchemaVersion is the version of the report's JSON form (docs/check.md). It changes
// when a field changes meaning or goes away; new fields keep it.
const SchemaVersion = 1

// Status is the outcome of one step.
type Status string

// Step outcomes.
const (
	// StatusOK: the clients that make this request get working settings from it.
	StatusOK Status = "ok"
	// StatusWarn: they still get working settings, but something should be fixed.
	StatusWarn Status = "warn"
	// StatusFail: some clients get no settings, or settings that do not work.
	StatusFail Status = "fail"
	// StatusSkip: not checked (not applicable, or not asked for).
	StatusSkip Status = "skip"
)

// Report is the outcome of one run: every client family, in the order they are
// described in docs/check.md.
type Report struct {
	Version  int       `json:"version"`
	Target   string    `json:"target"`  // as given on the command line
	Domain   string    `json:"domain"`  // the mail domain, in ASCII (punycode)
	Address  string    `json:"address"` // the address the requests carry
	Lang     string    `json:"lang"`    // the language of found and fix: en or zh-CN
	Started  time.Time `json:"started"`
	Families []Family  `json:"families"`
	Summary  Summary   `json:"summary"`
}

// Family is the steps one kind of client takes, or one aspect checked across them.
type Family struct {
	Name  string `json:"name"`  // stable: autoconfig, outlook, srv, apple, agreement, tls, dns, servers, config
	Title string `json:"title"` // in the report's language
	OK    bool   `json:"ok"`    // no step failed
	Steps []Step `json:"steps"`
}

// Step is one request (or one comparison) and what came of it.
type Step struct {
	ID      string `json:"id"`     // stable, see docs/check.md
	Status  Status `json:"status"` // ok, warn, fail or skip
	Asked   string `json:"asked"`  // the URL, DNS question or host:port asked, or what was compared
	Found   string `json:"found"`  // what came back, in the report's language
	Problem string `json:"problem,omitempty"`
	Fix     string `json:"fix,omitempty"` // one line, for warn and fail
}

// Summary is the outcome of the whole run.
type Summary struct {
	OK     bool     `json:"ok"`     // every family ok: the exit status is 0
	Failed []string `json:"failed"` // names of the families with a failed step
	Counts Counts   `json:"counts"`
}

// Counts are the steps by status.
type Counts struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// summarize fills every family's OK and the summary.
func (r *Report) summarize() {
	r.Summary = Summary{OK: true, Failed: []string{}}
	for i := range r.Families {
		f := &r.Families[i]
		f.OK = true
		for _, s := range f.Steps {
			switch s.Status {
			case StatusOK:
				r.Summary.Counts.OK++
			case StatusWarn:
				r.Summary.Counts.Warn++
			case StatusFail:
				r.Summary.Counts.Fail++
				f.OK = false
			case StatusSkip:
				r.Summary.Counts.Skip++
			}
		}
		if !f.OK {
			r.Summary.OK = false
			r.Summary.Failed = append(r.Summary.Failed, f.Name)
		}
	}
}
