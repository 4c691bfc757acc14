package membership

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"tiersync/internal/apperr"
)

// Input caps (issue 16). Every text a caller can send has a bound, so that no value can
// reach a PostgreSQL limit (a btree key over ~2.7 kB, a NUL byte, invalid UTF-8) and come
// back as a 500, and so that a row stays a size an operator can read. Human text is
// counted in characters (a name in Thai is not penalised for its bytes), identifiers in
// bytes (they are ASCII by rule).
const (
	MaxNameChars    = 200 // client, tier, customer first and last names
	MaxPhoneChars   = 40
	MaxAddressChars = 200 // each address field
	MaxEmailBytes   = 254 // RFC 5321's path limit
	MaxTagChars     = 255 // Shopify caps a tag at 255 characters
	MaxCRMIDBytes   = 255 // customer, club, order ids of a CRM
)

// checkText refuses text that is not valid UTF-8 or holds control characters (a NUL
// cannot be stored in PostgreSQL text at all; a newline in a name breaks every report), or
// that is longer than max characters. The JSON layer refuses most of this already; the
// CLI and the admin page come here without it.
func checkText(field, v string, max int) error {
	if !utf8.ValidString(v) {
		return apperr.BadRequestf("%s is not valid UTF-8", field)
	}
	if i := strings.IndexFunc(v, unicode.IsControl); i >= 0 {
		return apperr.BadRequestf("%s must not contain control characters (found %U)", field, []rune(v[i:])[0])
	}
	if n := utf8.RuneCountInString(v); n > max {
		return apperr.Invalidf("%s is longer than %d characters (%d)", field, max, n)
	}
	return nil
}

// crmIDRe is the character set of CRM ids: Commerce7's are UUIDs, Shopify's numbers or
// GraphQL ids (gid://shopify/Customer/123). Nothing that needs escaping in a URL path
// segment, no space, no quote.
var (
	crmIDRe    = regexp.MustCompile(`^[A-Za-z0-9._:@+-]+$`)
	shopifyGID = regexp.MustCompile(`^gid://shopify/[A-Za-z]+/[0-9]{1,20}$`)
)

// CheckCRMID refuses an id that no CRM makes: Commerce7 puts customer ids in URL paths
// (GET /customer/{id}), so ".", ".." and "/" are refused, except in the exact shape of a
// Shopify GraphQL id, whose slashes are its own.
func CheckCRMID(field, id string) error {
	if id == "" {
		return apperr.BadRequestf("%s is empty", field)
	}
	if len(id) > MaxCRMIDBytes {
		return apperr.BadRequestf("%s is longer than %d bytes", field, MaxCRMIDBytes)
	}
	if shopifyGID.MatchString(id) {
		return nil
	}
	if id == "." || id == ".." || !crmIDRe.MatchString(id) {
		return apperr.BadRequestf("%s %q is not a CRM id (a UUID, a number, a gid://shopify/... id, or letters, digits and . _ : @ + -)", field, clip(id, 80))
	}
	return nil
}

// clip shortens v for an error message, at a character boundary.
func clip(v string, max int) string {
	if len(v) <= max {
		return v
	}
	for max > 0 && !utf8.RuneStart(v[max]) {
		max--
	}
	return v[:max] + "…"
}

// cleanName makes a name that came from a CRM storable: control characters become spaces
// and it is cut to MaxNameChars characters. A CRM's name is not refused: refusing would
// lose a paid order over a field tiersync only displays, and the CRM would redeliver the
// same body forever.
func cleanName(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	v = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, v)
	v = strings.TrimSpace(v)
	if utf8.RuneCountInString(v) > MaxNameChars {
		v = strings.TrimSpace(string([]rune(v)[:MaxNameChars]))
	}
	return v
}
