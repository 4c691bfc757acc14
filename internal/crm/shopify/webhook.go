package shopify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
)

// Webhook parsing. Every error here is an apperr.BadRequest: the webhook contract
// answers a malformed body 400, and the HTTP layer passes these errors on as they are.

// maxVersionBytes caps updated_at and financial_status: both end up in a dedupe key,
// which lives in a unique index.
const maxVersionBytes = 64

// restOrder is the REST order JSON of Shopify's orders/* webhooks.
type restOrder struct {
	ID              *json.Number `json:"id"`
	Email           string       `json:"email"`
	TotalPrice      *string      `json:"total_price"`
	Currency        string       `json:"currency"`
	FinancialStatus string       `json:"financial_status"`
	ProcessedAt     string       `json:"processed_at"`
	UpdatedAt       string       `json:"updated_at"`
	Customer        *struct {
		ID                json.Number `json:"id"`
		AdminGraphQLAPIID string      `json:"admin_graphql_api_id"`
		Email             string      `json:"email"`
		FirstName         string      `json:"first_name"`
		LastName          string      `json:"last_name"`
	} `json:"customer"`
}

// OrderWebhook is the order an orders/* webhook carries.
type OrderWebhook struct {
	crm.Order
	// Version identifies this state of the order: id, updated_at, financial_status. The
	// signature covers it, unlike the event id headers: a second dedupe key.
	Version string
}

var numericID = regexp.MustCompile(`^[0-9]{1,20}$`)

// ParseOrderWebhook reads the order JSON. "Paid" comes from financial_status, which the
// signature covers, never from the X-Shopify-Topic header, which it does not.
// Only "paid" qualifies. pending, authorized and partially_paid are not paid (yet);
// refunded and voided never were or no longer are; partially_refunded was paid, but its
// total_price still counts the refunded part, and an orders/paid or orders/create
// delivery does not carry that state in practice: it is ignored rather than counted at a
// total the customer no longer paid. Each such delivery is recorded (a redelivery is a
// duplicate) and changes nothing.
func ParseOrderWebhook(raw []byte) (OrderWebhook, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var p restOrder
	if err := dec.Decode(&p); err != nil {
		return OrderWebhook{}, apperr.BadRequestf("malformed JSON: %v", err)
	}
	// The raw body is stored as jsonb, which refuses anything after the object.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return OrderWebhook{}, apperr.BadRequestf("malformed JSON: the body must hold a single JSON object")
	}
	if p.ID == nil || p.ID.String() == "" {
		return OrderWebhook{}, apperr.BadRequestf("id is required")
	}
	if !numericID.MatchString(p.ID.String()) {
		return OrderWebhook{}, apperr.BadRequestf("id %.40s is not a Shopify order id (a positive integer)", p.ID.String())
	}
	if p.TotalPrice == nil {
		return OrderWebhook{}, apperr.BadRequestf("total_price is required")
	}
	total, err := parseDecimalCents(*p.TotalPrice)
	if err != nil {
		return OrderWebhook{}, apperr.BadRequestf("total_price: %v", err)
	}
	if len(p.UpdatedAt) > maxVersionBytes || len(p.FinancialStatus) > maxVersionBytes {
		return OrderWebhook{}, apperr.BadRequestf("updated_at and financial_status are limited to %d bytes", maxVersionBytes)
	}
	o := OrderWebhook{Order: crm.Order{CRMOrderID: p.ID.String(), Email: p.Email, TotalCents: total, Currency: p.Currency}}
	if c := p.Customer; c != nil {
		o.CustomerCRMID = c.AdminGraphQLAPIID
		if o.CustomerCRMID == "" && c.ID != "" {
			if !numericID.MatchString(c.ID.String()) {
				return OrderWebhook{}, apperr.BadRequestf("customer.id %.40s is not a Shopify customer id (a positive integer)", c.ID.String())
			}
			// The GraphQL id, as the Shopify provider stores it.
			o.CustomerCRMID = "gid://shopify/Customer/" + c.ID.String()
		}
		if c.Email != "" {
			o.Email = c.Email
		}
		o.FirstName, o.LastName = c.FirstName, c.LastName
	}
	if p.FinancialStatus == "paid" {
		paid := time.Now().UTC()
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(p.ProcessedAt)); err == nil {
			paid = t
		}
		o.PaidAt = &paid
	}
	// The order's own version: Shopify moves updated_at on every change, payment included.
	// financial_status is part of it too, so that a payment that left updated_at alone
	// would still be a new version. A body without updated_at (not what Shopify sends)
	// falls back to the body's hash: a replay of the same bytes is still a duplicate.
	version := p.UpdatedAt
	if version == "" {
		sum := sha256.Sum256(raw)
		version = "sha256:" + hex.EncodeToString(sum[:])
	}
	o.Version = o.CRMOrderID + "@" + version + "/" + p.FinancialStatus
	return o, nil
}

// parseDecimalCents reads a money amount written as a decimal string ("12", "12.3",
// "12.30") into cents, exactly: digits, at most two decimals, no sign, no exponent, no
// float on the way (Shopify sends totals this way), and at most crm.MaxOrderCents.
func parseDecimalCents(s string) (int64, error) {
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
		if cents > crm.MaxOrderCents {
			return 0, fmt.Errorf("%q is too large", s)
		}
	}
	frac = (frac + "00")[:2]
	cents = cents*100 + int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	if cents > crm.MaxOrderCents {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return cents, nil
}
