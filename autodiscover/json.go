package autodiscover

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mailconf/mailconf"
	"github.com/mailconf/mailconf/httpserver"
)

// contentTypeJSON is the Content-Type of every V2 answer.
const contentTypeJSON = "application/json"

// maxEchoedProtocol bounds the part of an unknown Protocol value quoted back.
const maxEchoedProtocol = 32

// v2Error is a V2 error answer, shaped like Exchange's.
type v2Error struct {
	ErrorCode    string `json:"ErrorCode"`
	ErrorMessage string `json:"ErrorMessage"`
}

// JSON answers Autodiscover V2, which has no public specification (observed requests:
// GET PathJSON?Email=...&Protocol=... and PathJSON/v1.0/{email}?Protocol=...). For
// Protocol AutodiscoverV1, in any case (Outlook sends "Autodiscoverv1"), it returns the
// POX URL for the address's domain; any other protocol is 400 InvalidProtocol. The URL
// is autodiscover.url or https://autodiscover.<configured domain>/autodiscover/autodiscover.xml,
// prepared per configured domain: never built from the request text or Host header
// (ProxyShell, CVE-2021-34473, abused exactly that).
func (h *Handler) JSON(c echo.Context) error {
	d := h.docs.Load()
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	q := c.QueryParams()
	if p := queryValue(q, "Protocol"); !strings.EqualFold(p, "AutodiscoverV1") {
		return jsonError(c, http.StatusBadRequest, "InvalidProtocol",
			"The given protocol value '"+alphanumeric(p, maxEchoedProtocol)+"' is invalid. Supported values are 'AutodiscoverV1'")
	}
	email, isV1 := strings.CutPrefix(c.Request().URL.Path, pathJSONv1)
	if !isV1 {
		// Decoded tolerantly: a raw "+" in the address stays a plus.
		email, _ = httpserver.QueryParam(c.Request().URL.RawQuery, "Email")
	}
	addr, err := mailconf.ParseAddress(strings.TrimSpace(email))
	if err != nil {
		return jsonError(c, http.StatusBadRequest, "InvalidEmail", "The Email value is missing or is not an email address.")
	}
	p, ok := d.cat.Lookup(addr.Domain)
	if !ok {
		return jsonError(c, http.StatusNotFound, "UnknownDomain", "No configuration is available for this email domain.")
	}
	httpserver.NoteDomain(c, addr.Domain, p.ID)
	return c.Blob(http.StatusOK, contentTypeJSON, d.v2For(addr.Domain))
}

func jsonError(c echo.Context, status int, code, message string) error {
	b, err := json.Marshal(v2Error{ErrorCode: code, ErrorMessage: message})
	if err != nil {
		return err
	}
	return c.Blob(status, contentTypeJSON, b)
}

// queryValue returns the first value of key, matching the key exactly or, failing
// that, case-insensitively.
func queryValue(q url.Values, key string) string {
	if v, ok := q[key]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range q {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// alphanumeric keeps the ASCII letters and digits of s, at most max of them, so that a
// value quoted back can carry no markup, script or quote (as mailcow strips it).
func alphanumeric(s string, max int) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < max; i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
