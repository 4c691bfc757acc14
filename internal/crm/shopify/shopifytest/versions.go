package shopifytest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// LatestVersion is the newest stable Admin API version the fake knows of.
const LatestVersion = "2026-10"

// DeprecatedHeader names what is deprecated in a request (Shopify's header).
const DeprecatedHeader = "X-Shopify-API-Deprecated-Reason"

// versionPage is what the header held before 2025-04, and what the fake sends for a
// version near its end: Shopify's page on deprecation practices.
const versionPage = "https://shopify.dev/api/usage/versioning#deprecation-practices"

// releasesBefore is the stable version n quarterly releases before v ("2026-10", 4 →
// "2025-10"). A version that is not YYYY-MM (unstable) is returned as it is.
func releasesBefore(v string, n int) string {
	var year, month int
	if _, err := fmt.Sscanf(v, "%4d-%2d", &year, &month); err != nil || len(v) != 7 {
		return v
	}
	q := year*4 + (month-1)/3 - n
	return fmt.Sprintf("%04d-%02d", q/4, q%4*3+1)
}

// deprecatedField is a Customer.email selection: "email" as a field of its own, not
// emailAddress, defaultEmailAddress, an argument or a variable.
var deprecatedField = regexp.MustCompile(`[{\s]email[\s}]`)

// markDeprecated sets X-Shopify-API-Deprecated-Reason as Shopify does: the request's
// version is older than Options.DeprecatedBefore (the generic page), and/or the query
// selects a deprecated field (its name, as Shopify lists them since 2025-04). The fake
// still answers Customer.email, as Shopify does while the field is deprecated, not gone.
func (f *Fake) markDeprecated(h http.Header, version, query string) {
	var reasons []string
	if version < f.opts.DeprecatedBefore && len(version) == 7 { // "unstable" is never old
		reasons = append(reasons, versionPage)
	}
	if strings.Contains(query, "customer") && deprecatedField.MatchString(query) {
		reasons = append(reasons, "Customer.email")
	}
	if len(reasons) > 0 {
		h.Set(DeprecatedHeader, strings.Join(reasons, ", "))
	}
}
