package check

import (
	"bufio"
	"io"
	"strings"
)

// symbols mark each status in the text report.
var symbols = map[Status]string{StatusOK: "✓", StatusWarn: "!", StatusFail: "✗", StatusSkip: "–"}

// WriteText writes the report for people: a section per family, a line per step with
// what was asked, what was found and, for warnings and failures, the fix.
func (r *Report) WriteText(w io.Writer) error {
	b := bufio.NewWriter(w)
	b.WriteString(tr(r.Lang, "report.title", r.Target, r.Domain, r.Started.Format("2006-01-02 15:04 UTC")) + "\n")
	for _, f := range r.Families {
		mark := symbols[StatusOK]
		for _, s := range f.Steps {
			if s.Status == StatusWarn && mark == symbols[StatusOK] {
				mark = symbols[StatusWarn]
			}
		}
		if !f.OK {
			mark = symbols[StatusFail]
		}
		b.WriteString("\n" + mark + " " + f.Title + "\n")
		for _, s := range f.Steps {
			b.WriteString("  " + symbols[s.Status] + " " + s.ID + "  " + s.Asked + "\n")
			if s.Found != "" {
				b.WriteString("      " + s.Found + "\n")
			}
			if s.Fix != "" {
				b.WriteString("      → " + tr(r.Lang, "report.fix") + s.Fix + "\n")
			}
		}
	}
	c := r.Summary.Counts
	b.WriteString("\n")
	if r.Summary.OK {
		b.WriteString(tr(r.Lang, "report.ok", c.OK, c.Warn, c.Skip) + "\n")
	} else {
		b.WriteString(tr(r.Lang, "report.failed", c.Fail, strings.Join(r.Summary.Failed, ", "), c.Warn, c.OK, c.Skip) + "\n")
	}
	return b.Flush()
}
