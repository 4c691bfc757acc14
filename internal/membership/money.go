package membership

import (
	"fmt"
	"strings"
)

// MaxOrderCents bounds an order total, whichever CRM sent it: a hundred million dollars,
// far beyond any wine order. Lifetime value is a sum of such totals in a bigint: it would
// take over 900 million orders at the cap to overflow, and qUpdateLTV saturates anyway.
const MaxOrderCents = 100_000_000_00

// ParseDecimalCents reads a money amount written as a decimal string ("12", "12.3",
// "12.30") into cents, exactly: digits, at most two decimals, no sign, no exponent, no
// float on the way (Shopify sends totals this way).
func ParseDecimalCents(s string) (int64, error) {
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) {
		return 0, fmt.Errorf("%q is not an amount with at most two decimals", s)
	}
	var cents int64
	for _, part := range []string{whole, frac} {
		for _, r := range part {
			if r < '0' || r > '9' {
				return 0, fmt.Errorf("%q is not an amount with at most two decimals", s)
			}
		}
	}
	for _, r := range whole {
		cents = cents*10 + int64(r-'0')
		if cents > MaxOrderCents {
			return 0, fmt.Errorf("%q is too large", s)
		}
	}
	frac = (frac + "00")[:2]
	cents = cents*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	if cents > MaxOrderCents {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return cents, nil
}
