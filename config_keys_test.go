package mailconf

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigKinds walks every type reachable from Config and fails on one the decoder
// does not read (kindUnsupported): a field of a new kind must be taught to decode, so
// that it gets its type check and its line like every other.
func TestConfigKinds(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, path string)
	walk = func(typ reflect.Type, path string) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		k := kindOf(typ)
		switch k {
		case kindUnsupported:
			t.Errorf("%s: the decoder cannot read a %s", path, typ)
		case kindPointer, kindSlice:
			walk(typ.Elem(), path+"[]")
		case kindMap:
			walk(typ.Key(), path+"{key}")
			walk(typ.Elem(), path+"{}")
		case kindStruct:
			for i := range typ.NumField() {
				f := typ.Field(i)
				if yamlKey(f) == "" {
					continue
				}
				walk(f.Type, join(path, yamlKey(f)))
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	// The test itself must notice an unsupported kind.
	if kindOf(reflect.TypeFor[complex128]()) != kindUnsupported || kindOf(reflect.TypeFor[map[int]string]()) != kindUnsupported {
		t.Error("kindOf accepts kinds the decoder does not read")
	}
}

// configKeys returns the dotted YAML key path of every configurable field, lists and
// pointers looked through ("providers.incoming.port"). Map fields are leaves: their keys
// are the admin's own names.
func configKeys(typ reflect.Type, prefix string, out map[string]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || kindOf(typ) != kindStruct {
		return
	}
	for i := range typ.NumField() {
		f := typ.Field(i)
		key := yamlKey(f)
		if key == "" {
			continue
		}
		p := join(prefix, key)
		out[p] = true
		configKeys(f.Type, p, out)
	}
}

// exampleKeys collects the key paths present in a YAML node tree, lists looked through.
func exampleKeys(n *yaml.Node, prefix string, out map[string]bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			exampleKeys(c, prefix, out)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(prefix, n.Content[i].Value)
			out[p] = true
			exampleKeys(n.Content[i+1], p, out)
		}
	}
}

// commentedKeys are the keys the example documents in comments of the form "# key:"
// (alternatives that cannot all be set at once, such as dsn, dsn_file and dsn_env).
var commentedKeyRE = regexp.MustCompile(`(?m)^\s*#\s+([a-z_]+):`)

// TestExampleDocumentsEveryKey fails when a configuration key is missing from
// deploy/mailconf.example.yaml, the file that documents every key: as a key, or, for
// alternatives, as a "# key:" comment.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile("deploy/mailconf.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	exampleKeys(&root, "", have)
	want := map[string]bool{}
	configKeys(reflect.TypeFor[Config](), "", want)
	var missing []string
	have[""] = true // the top level
	commented := map[string]bool{}
	for _, m := range commentedKeyRE.FindAllStringSubmatch(string(data), -1) {
		commented[m[1]] = true
	}
	for k := range want {
		leaf := k[strings.LastIndexByte(k, '.')+1:]
		if !have[k] && !(commented[leaf] && have[parentPath(k)]) {
			missing = append(missing, k)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("deploy/mailconf.example.yaml does not show these keys: %v", missing)
	}
	// The walk must see nested keys, or the test proves nothing.
	if !want["providers.incoming.port"] || !want["tls.acme.accept_tos"] {
		t.Fatalf("configKeys missed nested keys: %v", want)
	}
}
