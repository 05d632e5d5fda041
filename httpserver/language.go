package httpserver

import (
	"net/http"
	"strings"

	"golang.org/x/text/language"
)

// maxAcceptLanguage bounds the Accept-Language header read.
const maxAcceptLanguage = 256

// Language picks the language of a people-facing answer among supported (BCP 47 tags,
// the first the fallback): the lang query parameter when it names one, else the best
// match of Accept-Language (RFC 9110 §12.5.4), else the first of preferred (the
// provider's languages) that is supported.
func Language(r *http.Request, supported, preferred []string) string {
	if v, ok := QueryParam(r.URL.RawQuery, "lang"); ok {
		for _, s := range supported {
			if strings.EqualFold(v, s) {
				return s
			}
		}
	}
	if h := r.Header.Get("Accept-Language"); h != "" && len(h) <= maxAcceptLanguage {
		if tags, q, err := language.ParseAcceptLanguage(h); err == nil && len(tags) > 0 && q[0] > 0 {
			sup := make([]language.Tag, len(supported))
			for i, s := range supported {
				sup[i] = language.Make(s)
			}
			_, i, conf := language.NewMatcher(sup).Match(tags...)
			if conf != language.No {
				return supported[i]
			}
		}
	}
	for _, p := range preferred {
		for _, s := range supported {
			if strings.EqualFold(p, s) {
				return s
			}
		}
	}
	return supported[0]
}
