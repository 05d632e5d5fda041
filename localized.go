package mailconf

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// Text is a string in one language. An empty Lang means the language is not said.
type Text struct {
	Lang  string
	Value string
}

// Localized is a text with optional per-language variants, in the order the
// configuration lists them; the first is the default. In YAML it is either a plain
// string or a mapping from BCP 47 language tag to text.
type Localized []Text

// Default returns the first variant, or "" when there is none.
func (l Localized) Default() string {
	if len(l) == 0 {
		return ""
	}
	return l[0].Value
}

// For returns the text in language lang (a BCP 47 tag such as en or zh-CN): the
// variant of that tag, else one of the same base language, else the default.
func (l Localized) For(lang string) string {
	for _, t := range l {
		if strings.EqualFold(t.Lang, lang) {
			return t.Value
		}
	}
	base, _, _ := strings.Cut(lang, "-")
	for _, t := range l {
		b, _, _ := strings.Cut(t.Lang, "-")
		if b != "" && strings.EqualFold(b, base) {
			return t.Value
		}
	}
	return l.Default()
}

// Languages returns the language tags of the variants, in order; a variant without one
// is left out.
func (l Localized) Languages() []string {
	var out []string
	for _, t := range l {
		if t.Lang != "" {
			out = append(out, t.Lang)
		}
	}
	return out
}

// UnmarshalYAML accepts a plain string or a mapping of language tag to string.
func (l *Localized) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag != "!!str" {
			return fmt.Errorf("want text or a mapping of language to text")
		}
		*l = Localized{{Value: n.Value}}
		return nil
	case yaml.MappingNode:
		out := make(Localized, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			tag, err := language.Parse(k.Value)
			if err != nil {
				return fmt.Errorf("%q is not a language tag (BCP 47, such as en or zh-CN)", k.Value)
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
				return fmt.Errorf("text for %s: want a string", k.Value)
			}
			out = append(out, Text{Lang: tag.String(), Value: v.Value})
		}
		*l = out
		return nil
	default:
		return fmt.Errorf("want text or a mapping of language to text")
	}
}

// MarshalYAML writes a single unnamed text as a plain string, anything else as a
// mapping that keeps the order.
func (l Localized) MarshalYAML() (any, error) {
	if len(l) == 1 && l[0].Lang == "" {
		return l[0].Value, nil
	}
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, t := range l {
		n.Content = append(n.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: t.Lang},
			&yaml.Node{Kind: yaml.ScalarNode, Value: t.Value})
	}
	return n, nil
}
