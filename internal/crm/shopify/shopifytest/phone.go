package shopifytest

import "strings"

// PhoneTakenMode is customerCreate's answer to a phone another customer of the shop has.
// Shopify refuses it (a customer's phone is unique in the shop); its message in the Admin
// API is not documented.
type PhoneTakenMode int

const (
	// PhoneTakenMessage: field ["phone"], "Phone has already been taken" (the validation
	// message Shopify gives for a taken email, on the phone).
	PhoneTakenMessage PhoneTakenMode = iota
	// PhoneTakenInvalid: field ["phone"], "Phone is invalid", as the Storefront API was
	// reported to answer a taken phone (Shopify/mobile-buy-sdk-android#582).
	PhoneTakenInvalid
)

func (m PhoneTakenMode) message() string {
	if m == PhoneTakenInvalid {
		return "Phone is invalid"
	}
	return "Phone has already been taken"
}

// normalPhone is the E.164 form of a phone the way Shopify reads one ("6135551212",
// "+16135551212", "(613)555-1212" and "+1 613-555-1212" are one number): spaces, dashes,
// dots and parentheses dropped; ten digits without a + are a North American number.
// false: not a number that can be dialled from anywhere (too short, letters, an
// extension).
func normalPhone(p string) (string, bool) {
	digits := strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
			return -1
		}
		return r
	}, strings.TrimSpace(p))
	plus := strings.HasPrefix(digits, "+")
	digits = strings.TrimPrefix(digits, "+")
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	switch {
	case plus && len(digits) >= 8 && len(digits) <= 15 && digits[0] != '0':
		return "+" + digits, true
	case !plus && len(digits) == 10 && digits[0] >= '2':
		return "+1" + digits, true
	case !plus && len(digits) == 11 && digits[0] == '1':
		return "+" + digits, true
	}
	return "", false
}

// phoneErrors are customerCreate's errors on the phone of a new customer; f.mu held.
func (f *Fake) phoneErrors(s *shopState, phone string) []userError {
	if phone == "" {
		return nil
	}
	n, ok := normalPhone(phone)
	if !ok {
		return uerr("Phone is invalid", "phone")
	}
	for _, c := range s.customers {
		if have, _ := normalPhone(c.Phone); have == n {
			return uerr(f.opts.PhoneTaken.message(), "phone")
		}
	}
	return nil
}
