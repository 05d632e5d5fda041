package autodiscover

import (
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
)

// canonicalPaths is an e.Pre middleware: echo's router is case-sensitive, but clients
// spell the Autodiscover path in several casings (MS-OXDISCO: "not case sensitive").
// It rewrites a path that case-insensitively equals PathXML or PathJSON, or starts with
// PathJSON+"/", to the canonical form and leaves every other path untouched, without
// allocating for them.
func canonicalPaths(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// Mutate the request in place: echo routes on the *http.Request it started with.
		CanonicalizePath(c.Request().URL)
		return next(c)
	}
}

// CanonicalizePath rewrites u's path in place to the canonical form when it is one of
// the Autodiscover paths in any casing, and leaves every other path untouched, without
// allocating. A server that routes many protocols calls it before routing instead of
// the e.Pre middleware Register installs (see Handler.RegisterRoutes): echo's
// pre-middleware costs an allocation on every request, of every protocol.
func CanonicalizePath(u *url.URL) {
	p, ok := canonicalPath(u.Path)
	if !ok {
		return
	}
	if p != u.Path {
		u.Path = p
	}
	// echo routes on RawPath when set: fold it the same way, so that it stays the
	// encoding of Path (an encoded "/" in a v1.0 address stays one segment for the
	// request log), or drop it when its fixed part is itself encoded.
	if u.RawPath != "" {
		if rp, ok := canonicalPath(u.RawPath); ok {
			u.RawPath = rp
		} else {
			u.RawPath = ""
		}
	}
}

// canonicalPath returns the canonical form of p and true when p is one of ours.
func canonicalPath(p string) (string, bool) {
	// Every path of ours starts with "/a" or "/A"; reject the rest cheaply.
	if len(p) < len(PathXML) || p[0] != '/' || p[1]|0x20 != 'a' {
		return "", false
	}
	switch {
	case len(p) == len(PathXML) && strings.EqualFold(p, PathXML):
		return PathXML, true
	case len(p) == len(PathJSON) && strings.EqualFold(p, PathJSON):
		return PathJSON, true
	case len(p) > len(PathJSON) && p[len(PathJSON)] == '/' && strings.EqualFold(p[:len(PathJSON)], PathJSON):
		rest := p[len(PathJSON):]
		const v1 = "/v1.0/"
		if len(rest) >= len(v1) && strings.EqualFold(rest[:len(v1)], v1) {
			if p[:len(pathJSONv1)] == pathJSONv1 {
				return p, true
			}
			// Only the fixed part is folded: the address after it keeps its case.
			return pathJSONv1 + rest[len(v1):], true
		}
		if p[:len(PathJSON)] == PathJSON {
			return p, true
		}
		return PathJSON + rest, true
	}
	return "", false
}
