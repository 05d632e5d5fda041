package mailconf

import (
	"encoding"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/mailconf/mailconf/internal/parallel"
)

// validator decodes and checks one configuration file, collecting every problem with
// its line.
type validator struct {
	file     string
	root     *yaml.Node      // the document, for the line of a field
	lines    map[string]int  // the line of a field, for documents that are not YAML
	failed   map[string]bool // field paths that did not decode
	problems []Problem
	subs     []*validator // of the files this one's includes and ISPDB entries read
}

func newValidator(file string) *validator {
	return &validator{file: file, failed: map[string]bool{}}
}

// line returns the line of the field at path (of its key, or of its list item), or of
// the nearest enclosing field the document has. It walks the document: problems are
// few, fields many.
func (v *validator) line(path string) int {
	if v.lines != nil {
		for p := path; ; p = parentPath(p) {
			if l, ok := v.lines[p]; ok || p == "" {
				return l
			}
		}
	}
	n, line := v.root, 0
	for path != "" && n != nil {
		var key string
		index := -1
		if path[0] == '[' {
			end := strings.IndexByte(path, ']')
			if end < 0 {
				break
			}
			index, _ = strconv.Atoi(path[1:end])
			path = strings.TrimPrefix(path[end+1:], ".")
		} else {
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			key, path = path[:end], strings.TrimPrefix(path[end:], ".")
		}
		switch {
		case index >= 0 && n.Kind == yaml.SequenceNode && index < len(n.Content):
			n = n.Content[index]
			line = n.Line
		case index < 0 && n.Kind == yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, next = n.Content[i].Line, n.Content[i+1]
				}
			}
			n = next
		default:
			return line
		}
	}
	return line
}

// parentPath returns the enclosing field of a path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// add records a problem. A problem at or below a field that already failed to decode is
// a consequence of that failure and is left out.
func (v *validator) add(path, format string, args ...any) {
	for p := path; p != ""; p = parentPath(p) {
		if v.failed[p] {
			return
		}
	}
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(path), Field: path, Message: fmt.Sprintf(format, args...)})
}

// fail records a value that could not be decoded.
func (v *validator) fail(path, format string, args ...any) {
	v.add(path, format, args...)
	v.failed[path] = true
}

func (v *validator) warn(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{File: v.file, Line: v.line(path), Field: path, Message: fmt.Sprintf(format, args...), Warning: true})
}

func (v *validator) errorCount() int {
	n := 0
	for _, p := range v.problems {
		if !p.Warning {
			n++
		}
	}
	return n
}

// maxProblems bounds the problems reported for one file; a file with more is mostly
// not a configuration.
const maxProblems = 100

func (v *validator) result() error {
	if len(v.problems) > maxProblems {
		more := len(v.problems) - maxProblems
		ps := append(v.problems[:maxProblems:maxProblems], Problem{File: v.file, Message: fmt.Sprintf("and %d more problems", more)})
		return &ProblemList{Problems: ps}
	}
	return &ProblemList{Problems: v.problems}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func cleanYAMLError(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = yamlLineRE.ReplaceAllString(s, "")
	return strings.TrimLeft(s, " :")
}

// decodeKind is how decode reads a Go type from YAML.
type decodeKind uint8

const (
	kindUnsupported decodeKind = iota
	kindYAML                   // implements yaml.Unmarshaler
	kindParsed                 // a type in scalarParsers
	kindText                   // implements encoding.TextUnmarshaler
	kindPointer
	kindStruct
	kindSlice
	kindMap // keys of kind string or kindText
	kindString
	kindBool
	kindInt
	kindUint
	kindFloat
)

var (
	typeYAMLUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	typeTextUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// scalarParsers read the value types from other packages that the configuration uses,
// with messages written for people editing the file.
var scalarParsers = map[reflect.Type]func(s string) (any, error){
	reflect.TypeFor[netip.Addr](): func(s string) (any, error) {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
		}
		return a.Unmap(), nil
	},
	reflect.TypeFor[netip.Prefix](): func(s string) (any, error) {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR prefix", s)
			}
			return p.Masked(), nil
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	},
	reflect.TypeFor[time.Duration](): func(s string) (any, error) {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("%q is not a duration (such as 90s, 5m or 1h30m)", s)
		}
		return d, nil
	},
}

// kindCache holds kindOf's answer per type.
var kindCache sync.Map // reflect.Type → decodeKind

// kindOf classifies a type for decode. TestConfigKinds walks every type reachable
// from Config and fails on kindUnsupported, so a new field cannot go unchecked.
func kindOf(t reflect.Type) decodeKind {
	if k, ok := kindCache.Load(t); ok {
		return k.(decodeKind)
	}
	k := classify(t)
	kindCache.Store(t, k)
	return k
}

func classify(t reflect.Type) decodeKind {
	if _, ok := scalarParsers[t]; ok {
		return kindParsed
	}
	pt := reflect.PointerTo(t)
	switch {
	case pt.Implements(typeYAMLUnmarshaler):
		return kindYAML
	case pt.Implements(typeTextUnmarshaler):
		return kindText
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindPointer
	case reflect.Struct:
		return kindStruct
	case reflect.Slice:
		return kindSlice
	case reflect.Map:
		if k := t.Key(); k.Kind() == reflect.String || kindOf(k) == kindText {
			return kindMap
		}
	case reflect.String:
		return kindString
	case reflect.Bool:
		return kindBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return kindUint
	case reflect.Float32, reflect.Float64:
		return kindFloat
	}
	return kindUnsupported
}

// decode reads the YAML node n into out, the value at path, recording the line of every
// field and reporting unknown keys and values that do not parse. A value that does not
// parse is left at its zero value.
func (v *validator) decode(n *yaml.Node, path string, out reflect.Value) {
	if n.Kind == yaml.AliasNode {
		// An alias repeats a subtree without its bytes: a small file can stand for an
		// enormous configuration. None is needed, so none is followed.
		v.fail(path, "YAML aliases (*%s) are not allowed: write the value out", n.Value)
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	t := out.Type()
	switch kindOf(t) {
	case kindYAML:
		if err := out.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			v.fail(path, "%v", err)
		}
	case kindParsed:
		if !v.scalar(n, path, "text") {
			return
		}
		val, err := scalarParsers[t](n.Value)
		if err != nil {
			v.fail(path, "%v", err)
			return
		}
		out.Set(reflect.ValueOf(val))
	case kindText:
		if !v.scalar(n, path, "text") {
			return
		}
		if err := out.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			v.fail(path, "%v", err)
		}
	case kindPointer:
		if out.IsNil() {
			out.Set(reflect.New(t.Elem()))
		}
		v.decode(n, path, out.Elem())
	case kindStruct:
		v.decodeStruct(n, path, out)
	case kindSlice:
		if n.Kind != yaml.SequenceNode {
			v.fail(path, "want a list, found %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			v.decode(item, path+"["+strconv.Itoa(i)+"]", s.Index(i))
		}
		out.Set(s)
	case kindMap:
		v.decodeMap(n, path, out)
	case kindString:
		if v.scalar(n, path, "text") {
			out.SetString(n.Value)
		}
	case kindBool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
			v.fail(path, "want true or false, found %s", kindName(n))
			return
		}
		out.SetBool(b)
	case kindFloat:
		var f float64
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			v.fail(path, "want a number, found %s", kindName(n))
			return
		}
		out.SetFloat(f)
	case kindInt:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			v.fail(path, "want a whole number, found %s", kindName(n))
			return
		}
		bits := t.Bits()
		if t.Kind() == reflect.Int {
			bits = 32 // the same range on every platform
		}
		i, err := strconv.ParseInt(n.Value, 0, bits)
		if err != nil {
			v.fail(path, "%s is out of range", n.Value)
			return
		}
		out.SetInt(i)
	case kindUint:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			v.fail(path, "want a whole number, found %s", kindName(n))
			return
		}
		u, err := strconv.ParseUint(n.Value, 0, t.Bits())
		if err != nil {
			v.fail(path, "%s is out of range 0..%d", n.Value, uint64(1)<<t.Bits()-1)
			return
		}
		out.SetUint(u)
	default:
		// TestConfigKinds keeps this from happening.
		v.fail(path, "internal error: a %s cannot be read from YAML", t)
	}
}

// scalar reports whether n is a scalar, recording a problem if not.
func (v *validator) scalar(n *yaml.Node, path, want string) bool {
	if n.Kind != yaml.ScalarNode {
		v.fail(path, "want %s, found %s", want, kindName(n))
		return false
	}
	return true
}

func (v *validator) decodeStruct(n *yaml.Node, path string, out reflect.Value) {
	t := out.Type()
	if n.Kind != yaml.MappingNode {
		v.fail(path, "want a mapping of keys to values, found %s", kindName(n))
		return
	}
	fields := yamlFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			v.fail(p, "unknown key %q (known: %s)", k.Value, strings.Join(yamlKeys(t), ", "))
			continue
		}
		if seen[k.Value] {
			v.fail(p, "key given twice")
			continue
		}
		seen[k.Value] = true
		v.decode(val, p, out.FieldByIndex(f.Index))
	}
}

func (v *validator) decodeMap(n *yaml.Node, path string, out reflect.Value) {
	t := out.Type()
	if n.Kind != yaml.MappingNode {
		v.fail(path, "want a mapping of keys to values, found %s", kindName(n))
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := join(path, k.Value)
		key := reflect.New(t.Key()).Elem()
		if t.Key().Kind() == reflect.String && kindOf(t.Key()) != kindText {
			key.SetString(k.Value)
		} else if err := key.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(k.Value)); err != nil {
			v.fail(p, "%v", err)
			continue
		}
		if m.MapIndex(key).IsValid() {
			v.fail(p, "key given twice")
			continue
		}
		elem := reflect.New(t.Elem()).Elem()
		v.decode(val, p, elem)
		m.SetMapIndex(key, elem)
	}
	out.Set(m)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			return fmt.Sprintf("text %q", n.Value)
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldCache holds yamlFields' answer per struct type: a configuration of ten
// thousand providers decodes the same few types a hundred thousand times.
var fieldCache sync.Map // reflect.Type → map[string]reflect.StructField

// yamlFields maps the YAML keys of a struct to its fields; fields tagged "-" have none.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.StructField)
	}
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name := yamlKey(f); name != "" {
			m[name] = f
		}
	}
	fieldCache.Store(t, m)
	return m
}

// yamlKeys lists the YAML keys of a struct in declaration order.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name := yamlKey(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// check validates the decoded configuration as a whole, fills in defaults, and builds
// the catalog.
// entry is a provider to check: from the configuration file, an included file or an
// ISPDB file, with the validator that reports its problems and its path there.
type entry struct {
	p    *Provider
	v    *validator
	path string // its field path in v's file: "providers[2]", or "" for a file of its own
	name string // how messages about other providers name it
}

// entries expands the configuration's providers into what is checked: built-in
// providers copied, ISPDB files and included files read. Problems reading them are
// reported by v (or the validator of the file they are in).
func (v *validator) entries(cfg *Config) []entry {
	builtins, err := builtinProviders()
	if err != nil {
		v.add("", "%v", err)
		return nil
	}
	out := make([]entry, 0, len(cfg.Providers))
	for i := range cfg.Providers {
		path := "providers[" + strconv.Itoa(i) + "]"
		p := &cfg.Providers[i]
		switch {
		case p.Builtin != "":
			b, ok := builtins[p.Builtin]
			if !ok {
				v.add(join(path, "builtin"), "no built-in provider %q (built in: %s)", p.Builtin, strings.Join(slices.Sorted(maps.Keys(builtins)), ", "))
				continue
			}
			if !reflect.DeepEqual(*p, Provider{Builtin: p.Builtin}) {
				v.add(path, "an entry with builtin takes that provider as it is; it cannot also set other keys")
			}
			c := cloneProvider(b)
			out = append(out, entry{p: &c, v: v, path: path, name: path})
		case p.ISPDB != "":
			if !reflect.DeepEqual(*p, Provider{ISPDB: p.ISPDB}) {
				v.add(path, "an entry with ispdb takes the providers of those files as they are; it cannot also set other keys")
			}
			out = append(out, v.ispdbEntries(join(path, "ispdb"), v.relative(p.ISPDB))...)
		default:
			out = append(out, entry{p: p, v: v, path: path, name: path})
		}
	}
	for i, pattern := range cfg.Include {
		path := fmt.Sprintf("include[%d]", i)
		files, err := filepath.Glob(v.relative(pattern))
		if err != nil {
			v.add(path, "%q: %v", pattern, err)
			continue
		}
		if len(files) == 0 {
			v.warn(path, "%q names no file", pattern)
		}
		slices.Sort(files)
		for _, f := range files {
			if e, ok := v.includedEntry(path, f); ok {
				out = append(out, e)
			}
		}
	}
	return out
}

// includedEntry reads a provider file: one provider, the keys of a providers entry,
// checked with its own file name and lines.
func (v *validator) includedEntry(path, file string) (entry, bool) {
	sub := newValidator(file)
	v.subs = append(v.subs, sub)
	data, err := ReadFile(file)
	if err != nil {
		v.add(path, "%v", err)
		return entry{}, false
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		sub.problems = append(sub.problems, Problem{File: file, Line: yamlErrorLine(err), Message: cleanYAMLError(err)})
		return entry{}, false
	}
	if len(root.Content) == 0 {
		sub.add("", "the file is empty: describe one provider")
		return entry{}, false
	}
	var p Provider
	sub.root = root.Content[0]
	sub.decode(sub.root, "", reflect.ValueOf(&p).Elem())
	if p.Builtin != "" || p.ISPDB != "" {
		sub.add("", "an included file describes a provider itself; builtin and ispdb go in the main configuration")
		return entry{}, false
	}
	return entry{p: &p, v: sub, path: "", name: file}, true
}

// check validates the decoded configuration as a whole, fills in defaults, and builds
// the catalog.
func (v *validator) check(cfg *Config) *Catalog {
	entries := v.entries(cfg)
	cat := &Catalog{}
	if len(entries) == 0 && v.errorCount() == 0 {
		v.add("providers", "list at least one provider")
	}
	// Each provider is checked on its own, on every processor, into a validator of its
	// own; then, in order, its problems are kept and it is compared with the others.
	checked := make([]*validator, len(entries))
	_ = parallel.For(len(entries), func(i int) error {
		e := &entries[i]
		c := &validator{file: e.v.file, root: e.v.root, lines: e.v.lines, failed: e.v.failed}
		c.checkProvider(e.p, e.path)
		checked[i] = c
		return nil
	})
	ids := map[Domain]string{}     // id -> the provider that has it first
	domains := map[Domain]string{} // domain -> the provider claiming it
	for i := range entries {
		e := &entries[i]
		p := e.p
		e.v.problems = append(e.v.problems, checked[i].problems...)
		if !p.ID.IsZero() {
			if first, dup := ids[p.ID]; dup {
				e.v.add(join(e.path, "id"), "id %q is already used by %s", p.ID, first)
			} else {
				ids[p.ID] = e.name
			}
		}
		for j, d := range p.Domains {
			if d.IsZero() {
				continue
			}
			if first, dup := domains[d]; dup {
				e.v.add(join(e.path, fmt.Sprintf("domains[%d]", j)), "domain %s is already claimed by %s", d, first)
				continue
			}
			domains[d] = e.name
		}
		cat.Providers = append(cat.Providers, p)
	}
	v.checkAutodiscover(&cfg.Autodiscover)
	v.checkProfile(&cfg.Profile)
	v.checkDNS(&cfg.DNS, cat.Providers)
	v.checkHTTP(&cfg.HTTP)
	v.checkTLS(&cfg.TLS)
	for _, sub := range v.subs {
		v.problems = append(v.problems, sub.problems...)
	}
	v.subs = nil
	if v.errorCount() > 0 {
		return nil
	}
	cat.byName = make(map[string]*Provider, len(domains))
	for _, p := range cat.Providers {
		for _, d := range p.Domains {
			cat.byName[d.name] = p
		}
	}
	cat.Autodiscover = cfg.Autodiscover
	cat.DNS = cfg.DNS
	cat.HTTP = cfg.HTTP
	cat.TLS = cfg.TLS
	cat.Profile = cfg.Profile
	cat.Warnings = append(cat.Warnings, v.problems...)
	return cat
}

// checkProvider checks one provider and fills in its defaults.
func (v *validator) checkProvider(p *Provider, path string) {
	if p.ID.IsZero() {
		v.add(join(path, "id"), "missing: give the provider an id, conventionally its primary domain")
	}
	v.checkNames(p, path)
	v.checkDomains(p, path)
	v.checkServers(p, path)
	v.checkSources(p, path)
	v.checkNotOffered(p, path)
	v.checkDocumentation(p, path)
	v.checkDAV(p.Calendars, join(path, "calendars"))
	v.checkDAV(p.Contacts, join(path, "contacts"))
	v.checkOAuth2(p, path)
	v.checkMTASTS(p.MTASTS, join(path, "mta_sts"))
}

// Name lengths (draft-ietf-mailmaint-autoconfig §4: displayName SHOULD be at most 30
// characters and MUST be at most 60; displayShortName 12 and 20).
const (
	displayNameSoft, displayNameHard = 30, 60
	shortNameSoft, shortNameHard     = 12, 20
)

// checkNames checks the display and short names; the display name stands in for a
// missing short name when it is short enough.
func (v *validator) checkNames(p *Provider, path string) {
	checkLength := func(field string, l Localized, soft, hard int) {
		for _, t := range l {
			n := utf8.RuneCountInString(t.Value)
			switch {
			case strings.TrimSpace(t.Value) != t.Value || strings.ContainsAny(t.Value, "\r\n\t"):
				v.add(join(path, field), "no leading, trailing or embedded line breaks allowed (clients do not trim)")
			case n > hard:
				v.add(join(path, field), "%d characters; at most %d allowed (draft-ietf-mailmaint-autoconfig §4)", n, hard)
			case n > soft:
				v.warn(join(path, field), "%d characters; at most %d recommended (draft-ietf-mailmaint-autoconfig §4)", n, soft)
			}
		}
	}
	if p.DisplayName.Default() == "" {
		v.add(join(path, "display_name"), "missing: clients show it as the account name")
	}
	checkLength("display_name", p.DisplayName, displayNameSoft, displayNameHard)
	for _, t := range p.PasswordHint {
		if strings.ContainsAny(t.Value, "\r\n") || len(t.Value) > 200 {
			v.add(join(path, "password_hint"), "one line of at most 200 bytes, please")
		}
	}
	if p.ShortName.Default() != "" {
		checkLength("short_name", p.ShortName, shortNameSoft, shortNameHard)
		return
	}
	for _, t := range p.DisplayName {
		if utf8.RuneCountInString(t.Value) > shortNameHard {
			v.add(join(path, "short_name"), "missing, and display_name %q is too long to stand in for it: give a short_name of at most %d characters", t.Value, shortNameHard)
			break
		}
	}
	p.ShortName = p.DisplayName
}

// checkDomains checks that there are domains and that DNS can publish names under each.
func (v *validator) checkDomains(p *Provider, path string) {
	if len(p.Domains) == 0 {
		v.add(join(path, "domains"), "missing: list at least one domain")
	}
	for j, d := range p.Domains {
		// DNS publishes names under the domain; the longest must still be a valid name
		// (RFC 1035 §2.3.4: 253 characters without the final dot).
		if n := len(d.String()); len(longestOwner)+n > maxDomainLen {
			v.add(join(path, fmt.Sprintf("domains[%d]", j)), "%d characters: too long to publish %s<domain> in DNS (at most %d)", n, longestOwner, maxDomainLen-len(longestOwner))
		}
	}
}

// checkServers checks the incoming and outgoing servers.
func (v *validator) checkServers(p *Provider, path string) {
	if len(p.Incoming) == 0 {
		v.add(join(path, "incoming"), "missing: list at least one incoming (imap or pop3) server")
	}
	if len(p.Outgoing) == 0 {
		v.add(join(path, "outgoing"), "missing: list at least one outgoing (smtp) server")
	}
	hasIMAP := false
	for j := range p.Incoming {
		s := &p.Incoming[j]
		sp := join(path, fmt.Sprintf("incoming[%d]", j))
		if s.Type != TypeIMAP && s.Type != TypePOP3 {
			v.add(sp+".type", "%q is not an incoming server type (imap or pop3)", s.Type)
		}
		hasIMAP = hasIMAP || s.Type == TypeIMAP
		v.checkServer(s, sp)
	}
	// A per-domain hostname must be a valid name under every domain (RFC 1035 §2.3.4).
	for s := range p.Servers() {
		if !s.Hostname.PerDomain() {
			continue
		}
		for j, d := range p.Domains {
			if n := len(s.Hostname.Prefix()) + len(d.String()); n > maxDomainLen {
				v.add(join(path, fmt.Sprintf("domains[%d]", j)), "%s makes %s%s, %d characters (at most %d)", s.Hostname, s.Hostname.Prefix(), d, n, maxDomainLen)
			}
		}
	}
	if len(p.Incoming) > 0 && !hasIMAP {
		v.warn(join(path, "incoming"), "no imap server: Thunderbird for Android (K-9) ignores POP3 and rejects the whole autoconfig file")
	}
	for j := range p.Outgoing {
		s := &p.Outgoing[j]
		sp := join(path, fmt.Sprintf("outgoing[%d]", j))
		if s.Type == "" {
			s.Type = TypeSMTP
		}
		if s.Type != TypeSMTP {
			v.add(sp+".type", "%q is not an outgoing server type (smtp)", s.Type)
		}
		v.checkServer(s, sp)
	}
}

func (v *validator) checkServer(s *Server, path string) {
	if s.Hostname.IsZero() {
		v.add(join(path, "hostname"), "missing")
	}
	if s.Port < 1 || s.Port > 65535 {
		v.add(join(path, "port"), "%d is outside 1..65535", s.Port)
	}
	switch s.Socket {
	case SocketSSL, SocketSTARTTLS:
	case SocketPlain:
		v.warn(join(path, "socket"), "plain sends passwords unencrypted, and Thunderbird for Android rejects a whole autoconfig file that lists a plain server")
	case "":
		v.add(join(path, "socket"), "missing: SSL, STARTTLS or plain")
	default:
		v.add(join(path, "socket"), "%q is not SSL, STARTTLS or plain (exact case; clients reject TLS and other spellings)", s.Socket)
	}
	if len(s.Authentication) == 0 {
		s.Authentication = AuthMethods{AuthPasswordCleartext}
	}
	seen := make(map[Authentication]bool, len(s.Authentication))
	for k, m := range s.Authentication {
		ap := join(path, "authentication")
		if len(s.Authentication) > 1 {
			ap = fmt.Sprintf("%s[%d]", ap, k)
		}
		switch m {
		case AuthPasswordCleartext, AuthPasswordEncrypted, AuthOAuth2, AuthClientIP, AuthTLSClientCert, AuthNone:
		default:
			v.add(ap, "%q is not one of password-cleartext, password-encrypted, OAuth2, client-IP-address, TLS-client-cert, none", m)
		}
		if seen[m] {
			v.add(ap, "%s listed twice", m)
		}
		seen[m] = true
	}
	v.checkUsername(&s.Username, join(path, "username"))
}

// checkUsername checks a login name and defaults it to the address.
func (v *validator) checkUsername(u *string, path string) {
	if *u == "" {
		*u = PlaceholderAddress
	} else if strings.Contains(*u, "%") {
		switch *u {
		case PlaceholderAddress, PlaceholderLocalPart, PlaceholderDomain:
		default:
			v.add(path, "%q: a placeholder must be the whole username: %s, %s or %s", *u, PlaceholderAddress, PlaceholderLocalPart, PlaceholderDomain)
		}
	} else if strings.TrimSpace(*u) != *u || strings.ContainsAny(*u, "\r\n\t") {
		v.add(path, "no leading or trailing space allowed")
	}
}

// defaultDomainsRefresh is how often domain sources are read again.
const defaultDomainsRefresh = 60 * time.Second

// checkSources checks the domain sources of a provider.
func (v *validator) checkSources(p *Provider, path string) {
	if len(p.DomainsFrom) == 0 {
		if p.DomainsRefresh != 0 {
			v.add(join(path, "domains_refresh"), "set without domains_from")
		}
		return
	}
	if len(p.Domains) == 0 {
		// The provider's primary domain names it in DNS defaults and on pages.
		v.add(join(path, "domains"), "list at least one domain beside domains_from: the first is the primary domain")
	}
	switch {
	case p.DomainsRefresh == 0:
		p.DomainsRefresh = defaultDomainsRefresh
	case p.DomainsRefresh < time.Second:
		v.add(join(path, "domains_refresh"), "%v: want 1s or more", p.DomainsRefresh)
	}
	for j := range p.DomainsFrom {
		s := &p.DomainsFrom[j]
		sp := join(path, fmt.Sprintf("domains_from[%d]", j))
		if (s.File == "") == (s.SQL == nil) {
			v.add(sp, "give either file or sql")
			continue
		}
		s.dir = v.dir()
		if s.SQL == nil {
			continue
		}
		q := s.SQL
		if !slices.Contains(SQLDrivers, q.Driver) {
			v.add(sp+".sql.driver", "%q: want one of %s", q.Driver, strings.Join(SQLDrivers, ", "))
		}
		n := 0
		for _, x := range []string{q.DSN, q.DSNFile, q.DSNEnv} {
			if x != "" {
				n++
			}
		}
		if n != 1 {
			v.add(sp+".sql", "give exactly one of dsn, dsn_file and dsn_env")
		}
		if strings.TrimSpace(q.Query) == "" {
			v.add(sp+".sql.query", "missing: the query whose first column lists the domains")
		}
	}
}

// relative resolves a path relative to the configuration file's directory.
func (v *validator) relative(path string) string { return resolvePath(v.dir(), path) }

// dir is the directory relative paths in the configuration start from: the file's;
// none for the built-in configuration.
func (v *validator) dir() string {
	if v.file == BuiltinName {
		return ""
	}
	return filepath.Dir(v.file)
}

// checkNotOffered checks that a service marked as not offered is not offered after all.
func (v *validator) checkNotOffered(p *Provider, path string) {
	for j, svc := range p.NotOffered {
		for s := range p.Servers() {
			if s.SRVService() == svc {
				v.add(join(path, fmt.Sprintf("not_offered[%d]", j)), "%s is offered by %s:%d; it cannot also be marked as not offered", svc, s.Hostname, s.Port)
			}
		}
	}
}

func (v *validator) checkDocumentation(p *Provider, path string) {
	if p.EnableURL != nil && len(p.Instructions) == 0 {
		v.add(join(path, "enable_url"), "give instructions too: they say what to do on that page")
	}
	for j, d := range p.Documentation {
		dp := join(path, fmt.Sprintf("documentation[%d]", j))
		if d.URL.URL == nil {
			v.add(dp+".url", "missing: the page's absolute http or https URL")
		}
		if d.Description.Default() == "" {
			v.add(dp+".description", "missing: say what the page is about")
		}
	}
}

func (v *validator) checkAutodiscover(a *AutodiscoverConfig) {
	if a.URL != nil {
		u := a.URL
		host, err := ParseDomain(u.Hostname())
		switch {
		case u.Scheme != "https" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
			v.add("autodiscover.url", "%q is not an absolute https URL without query (Outlook accepts only HTTPS)", u)
		case err != nil:
			v.add("autodiscover.url", "host: %v", unwrapMsg(err))
		default:
			a.Host, a.Port = host, 443
			if p := u.Port(); p != "" {
				n, err := strconv.ParseUint(p, 10, 16)
				if err != nil || n == 0 {
					v.add("autodiscover.url", "%q: port %s is outside 1..65535", u, p)
				}
				a.Port = uint16(n)
			}
		}
	}
	switch a.MobilesyncAnswer {
	case "", "imap":
	default:
		v.add("autodiscover.mobilesync_answer", "%q: want imap, or leave it out to answer error 601", a.MobilesyncAnswer)
	}
	if a.TTL < 0 {
		v.add("autodiscover.ttl", "%d: want hours, 0 or more", a.TTL)
	}
	if a.TTL == 0 {
		a.TTL = 1
	}
}

// DNS defaults (RFC 1912 §2.2 ranges; the SOA MINIMUM within Zonemaster's 300..86400).
const (
	defaultTTL         = 3600
	defaultNegativeTTL = 300
	defaultRefresh     = 3600
	defaultRetry       = 900
	defaultExpire      = 1209600
	defaultWeight      = 1
)

func (v *validator) checkDNS(d *DNSConfig, providers []*Provider) {
	if !d.TCPZones {
		// RFC 1034 §4.2.2: a name server inside its zone needs its addresses there (and
		// glue in the parent), or no resolver reaches it; BIND refuses such a zone.
		for i, ns := range d.Nameservers {
			if len(d.NameserverAddresses[ns]) > 0 {
				continue
			}
			for _, p := range providers {
				for _, dom := range p.Domains {
					if !dom.IsZero() && (ns == dom || strings.HasSuffix(ns.name, "."+dom.name)) {
						v.warn(fmt.Sprintf("dns.nameservers[%d]", i), "%s lies inside the zone %s but has no address: give it one in dns.nameserver_addresses", ns, dom)
					}
				}
			}
		}
	}
	if len(d.Nameservers) == 0 && len(providers) > 0 && !providers[0].PrimaryDomain().IsZero() {
		d.Nameservers = []Domain{{name: "ns1." + providers[0].PrimaryDomain().name}}
		if len(d.Addresses) > 0 && len(d.NameserverAddresses) == 0 {
			// The default nameserver is this server.
			d.NameserverAddresses = map[Domain][]netip.Addr{d.Nameservers[0]: slices.Clone(d.Addresses)}
		}
	}
	for name := range d.NameserverAddresses {
		if !slices.Contains(d.Nameservers, name) {
			v.add("dns.nameserver_addresses."+name.String(), "%q is not one of dns.nameservers", name)
		}
	}
	if d.Hostmaster.IsZero() && len(d.Nameservers) > 0 {
		ns := d.Nameservers[0].name
		if i := strings.IndexByte(ns, '.'); i >= 0 && strings.Contains(ns[i+1:], ".") {
			ns = ns[i+1:]
		}
		d.Hostmaster = Address{LocalPart: "hostmaster", Domain: Domain{name: ns}}
	} else if strings.ContainsAny(d.Hostmaster.LocalPart, `"\`) {
		// RFC 1035 §8: the local part becomes one label of the SOA RNAME.
		v.add("dns.hostmaster", "%q: a quoted local part cannot be written into the SOA", d.Hostmaster)
	}
	setDefault := func(p *uint32, def uint32) {
		if *p == 0 {
			*p = def
		}
	}
	setDefault(&d.TTL, defaultTTL)
	setDefault(&d.NegativeTTL, defaultNegativeTTL)
	setDefault(&d.Refresh, defaultRefresh)
	setDefault(&d.Retry, defaultRetry)
	setDefault(&d.Expire, defaultExpire)
	if d.Weight == nil {
		w := uint16(defaultWeight)
		d.Weight = &w
	}
	v.positive("dns.tcp_max_connections", &d.TCPMaxConnections, defaultTCPMaxConnections)
	v.positive("dns.tcp_max_connections_per_client", &d.TCPMaxConnectionsPerClient, defaultTCPMaxPerClient)
	for _, f := range []struct{ name, val string }{{"dns.version", d.Version}, {"dns.server_id", d.ServerID}} {
		if len(f.val) > 255 || strings.ContainsFunc(f.val, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
			v.add(f.name, "at most 255 printable ASCII characters")
		}
	}
	if d.TCPZones && len(d.Addresses) > 0 {
		v.warn("dns.addresses", "with tcp_zones, autoconfig.<domain> and autodiscover.<domain> lie outside the zones served: publish their addresses where <domain> is hosted")
	}
	v.checkTransfer(d)
	v.checkRateLimit(&d.RateLimit)
}

// checkTransfer checks the transfer keys, reading their secrets, and the NOTIFY
// targets, which get the first key unless they name one.
func (v *validator) checkTransfer(d *DNSConfig) {
	keys := map[KeyName]bool{}
	for i := range d.Transfer.Keys {
		k := &d.Transfer.Keys[i]
		path := fmt.Sprintf("dns.transfer.keys[%d]", i)
		if k.Name.IsZero() {
			v.add(path+".name", "missing: the key's name, as the secondary servers know it")
		} else if keys[k.Name] {
			v.add(path+".name", "key %q is listed twice", k.Name)
		}
		keys[k.Name] = true
		if k.Algorithm == "" {
			k.Algorithm = HMACSHA256
		}
		if k.SecretFile == "" {
			v.add(path+".secret_file", "missing: the file holding the key's secret in base64")
			continue
		}
		secret, err := readSecret(v.relative(k.SecretFile))
		if err != nil {
			v.add(path+".secret_file", "%v", err)
			continue
		}
		k.Secret = secret
		// RFC 2104 §3: a key shorter than the hash output weakens the HMAC.
		if n := tsigAlgorithms[k.Algorithm]; len(secret) < n {
			v.warn(path+".secret_file", "the secret has %d bytes; %s wants at least %d (RFC 2104 §3)", len(secret), k.Algorithm, n)
		}
	}
	for i := range d.Notify {
		n := &d.Notify[i]
		path := fmt.Sprintf("dns.notify[%d]", i)
		switch {
		case n.NoKey:
		case !n.Key.IsZero() && !keys[n.Key]:
			v.add(path, "key %q is not one of dns.transfer.keys", n.Key)
		case n.Key.IsZero() && len(d.Transfer.Keys) > 0:
			n.Key = d.Transfer.Keys[0].Name
		}
	}
	if len(d.Notify) > 0 && len(d.Transfer.Allow) == 0 && len(d.Transfer.Keys) == 0 {
		v.warn("dns.notify", "secondaries are notified, but dns.transfer allows no one to transfer the zones")
	}
}

// maxSecretFile bounds a TSIG secret file: a base64 secret of a few dozen bytes and
// some comment lines.
const maxSecretFile = 4096

// readSecret reads a base64 TSIG secret from a file, ignoring blank lines and lines
// starting with #. Its errors never quote the file's content.
func readSecret(path string) (Secret, error) {
	f, err := openNonBlocking(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %s", ErrNotRegular, path, fileKind(st.Mode()))
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("%s: more than %d bytes; want a base64 secret", path, maxSecretFile)
	}
	var b64 strings.Builder
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			b64.WriteString(line)
		}
	}
	secret, err := base64.StdEncoding.DecodeString(b64.String())
	if err != nil || len(secret) == 0 {
		return nil, fmt.Errorf("%s does not hold a base64 secret (make one with: head -c 32 /dev/urandom | base64)", path)
	}
	return Secret(secret), nil
}

// Response rate limiting defaults (NSD's: nsd.conf(5) rrl-ratelimit, rrl-slip,
// rrl-ipv4-prefix-length, rrl-ipv6-prefix-length).
const (
	defaultRRLRate         = 200
	defaultRRLSlip         = 2
	defaultRRLIPv4Prefix   = 24
	defaultRRLIPv6Prefix   = 64
	maxRRLSlip             = 100
	rrlPrefixLengthMessage = "%d: want %d..%d (leave it out for the default, %d)"
)

// DefaultRRLExempt are the client addresses response rate limiting leaves alone by
// default: loopback, which no packet from the network can claim to come from.
var DefaultRRLExempt = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func (v *validator) checkRateLimit(r *DNSRateLimit) {
	if r.ResponsesPerSecond == nil {
		n := uint32(defaultRRLRate)
		r.ResponsesPerSecond = &n
	}
	if r.Slip == nil {
		n := uint32(defaultRRLSlip)
		r.Slip = &n
	} else if *r.Slip > maxRRLSlip {
		v.add("dns.rate_limit.slip", "%d: want 0 (drop every answer over the budget) to %d", *r.Slip, maxRRLSlip)
	}
	for _, p := range []struct {
		name     string
		val      *int
		max, def int
	}{{"dns.rate_limit.ipv4_prefix_length", &r.IPv4PrefixLength, 32, defaultRRLIPv4Prefix}, {"dns.rate_limit.ipv6_prefix_length", &r.IPv6PrefixLength, 128, defaultRRLIPv6Prefix}} {
		switch {
		case *p.val == 0:
			*p.val = p.def
		case *p.val < 1 || *p.val > p.max:
			v.add(p.name, rrlPrefixLengthMessage, *p.val, 1, p.max, p.def)
		}
	}
	if r.Exempt == nil {
		r.Exempt = slices.Clone(DefaultRRLExempt)
	}
}

// unwrapMsg drops the package prefix of a sentinel-wrapped error for messages.
func unwrapMsg(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, ErrBadAddress.Error()+": ")
	s = strings.TrimPrefix(s, ErrBadDomain.Error()+": ")
	return s
}

// Connection caps (see HTTPConfig and DNSConfig). About 10 KiB per idle HTTP
// connection: 4096 of them stay well inside the 128 MiB the Kubernetes manifest allows.
const (
	defaultMaxConnections          = 4096
	defaultMaxConnectionsPerClient = 64
	defaultAdminMaxConnections     = 64
	defaultTCPMaxConnections       = 1024
	defaultTCPMaxPerClient         = 32
)

// positive checks a count that must be at least 1, filling in def when it is 0.
func (v *validator) positive(path string, p *int, def int) {
	switch {
	case *p < 0:
		v.add(path, "%d: want 1 or more (leave it out for the default, %d)", *p, def)
	case *p == 0:
		*p = def
	}
}

func (v *validator) checkHTTP(h *HTTPConfig) {
	if h.RateLimit < 0 {
		v.add("http.rate_limit", "want requests per second, 0 (no limit) or more")
	}
	if h.RateBurst < 0 {
		v.add("http.rate_burst", "want 0 or more")
	}
	if h.RateLimit > 0 && h.RateBurst == 0 {
		h.RateBurst = max(1, int(2*h.RateLimit))
	}
	if u := h.PublicURL; u != nil && (u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.User != nil) {
		v.add("http.public_url", "%q: want a scheme and host only, such as https://mail.example.com", u)
	}
	v.positive("http.max_connections", &h.MaxConnections, defaultMaxConnections)
	v.positive("http.max_connections_per_client", &h.MaxConnectionsPerClient, defaultMaxConnectionsPerClient)
	v.positive("http.admin_max_connections", &h.AdminMaxConnections, defaultAdminMaxConnections)
}

func (v *validator) checkProfile(p *ProfileConfig) {
	if (p.CertFile == "") != (p.KeyFile == "") {
		v.add("profile", "cert_file and key_file go together")
	}
	if strings.ContainsAny(p.Organization, "\r\n") {
		v.add("profile.organization", "one line, please")
	}
}

func (v *validator) checkTLS(t *TLSConfig) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.add("tls", "cert_file and key_file go together")
	}
	if t.ACME == nil {
		return
	}
	if t.CertFile != "" {
		v.add("tls.acme", "use either certificate files or acme, not both")
	}
	a := t.ACME
	if !a.AcceptTOS {
		v.add("tls.acme.accept_tos", "set accept_tos: true to accept the CA's terms of service")
	}
	if a.DirectoryURL != nil && a.DirectoryURL.Scheme != "https" {
		v.add("tls.acme.directory_url", "%q is not an absolute https URL", a.DirectoryURL)
	}
	if a.StateDir == "" {
		a.StateDir = "/var/lib/mailconf/acme"
	}
}
