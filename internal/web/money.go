package web

// Money as an operator reads it ("$50.00", not "5000¢"), and addresses as lines rather
// than JSON.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
)

// defaultCurrency is the currency of an amount that names none (the client's is passed
// wherever it is known: tiers' thresholds, lifetime values, orders without a currency).
const defaultCurrency = membership.DefaultCurrency

// currencySymbols are the prefixes of the currencies our CRMs' stores sell in; any other
// code is written after the amount ("12.00 CHF").
var currencySymbols = map[string]string{"USD": "$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "EUR": "€", "GBP": "£"}

// formatMoney writes cents of a currency (ISO 4217; "" is defaultCurrency) with a
// thousands separator: 123456 USD is "$1,234.56", -500 EUR is "-€5.00".
func formatMoney(cents int64, currency string) string {
	if currency == "" {
		currency = defaultCurrency
	}
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign, u = "-", uint64(-(cents+1))+1 // math.MinInt64 has no positive twin
	}
	whole := strconv.FormatUint(u/100, 10)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	amount := fmt.Sprintf("%s.%02d", b.String(), u%100)
	if sym, ok := currencySymbols[currency]; ok {
		return sign + sym + amount
	}
	return sign + amount + " " + currency
}

// money is the templates' money function: cents (any integer) and a currency as a
// string, a *string (an order's, nil when it sent none) or nothing.
func money(cents int64, currency ...any) string {
	code := ""
	if len(currency) > 0 {
		switch c := currency[0].(type) {
		case string:
			code = c
		case *string:
			if c != nil {
				code = *c
			}
		}
	}
	return formatMoney(cents, code)
}

// formAmount is cents as a form's amount field holds them, for parseMoney to read back:
// 5000 is "50.00" (no symbol, no separators: what an operator edits is the number).
func formAmount(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// postal writes a stored address (the JSON of membership.Address) on one line:
// "1 Vine St, Napa, CA 94558, US"; "—" for none, the JSON itself if it is not one.
func postal(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return "—"
	}
	var a membership.Address
	if err := json.Unmarshal(raw, &a); err != nil {
		return string(raw)
	}
	var parts []string
	for _, p := range []string{a.Address, a.Address2, a.City, strings.TrimSpace(a.StateCode + " " + a.ZipCode), a.CountryCode} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// parseMoney reads an amount an operator typed ("50", "50.5", "$1,250.00") as cents.
func parseMoney(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	clean := strings.NewReplacer("$", "", ",", "", " ", "").Replace(s)
	whole, frac, hasFrac := strings.Cut(clean, ".")
	if whole == "" && !hasFrac || len(frac) > 2 || len(clean) > 15 {
		return 0, apperr.Invalidf("%s %q is not an amount such as 50.00", field, clip(s))
	}
	if whole == "" {
		whole = "0"
	}
	w, err := strconv.ParseUint(whole, 10, 47)
	if err != nil {
		return 0, apperr.Invalidf("%s %q is not an amount such as 50.00", field, clip(s))
	}
	var f uint64
	if frac != "" {
		if f, err = strconv.ParseUint(frac, 10, 8); err != nil {
			return 0, apperr.Invalidf("%s %q is not an amount such as 50.00", field, clip(s))
		}
		if len(frac) == 1 {
			f *= 10
		}
	}
	return int64(w*100 + f), nil
}

// clip shortens what an operator typed for a message that quotes it.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
