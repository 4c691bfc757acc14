package crm

import "time"

// MaxOrderCents bounds an order total, whichever CRM sent it: a hundred million dollars,
// far beyond any wine order. Lifetime value is a sum of such totals in a bigint: it would
// take over 900 million orders at the cap to overflow, and membership's qUpdateLTV
// saturates anyway. Each CRM's webhook parser refuses a total above it with a 400.
const MaxOrderCents = 100_000_000_00

// Order is an order as a CRM's order webhook tells it: what commerce7.Webhook.Order and
// shopify.ParseOrderWebhook return, and what membership applies (membership.Order is
// this type). It lives here, below membership, so that the CRM packages can parse their
// own payloads without knowing anything of memberships.
type Order struct {
	CRMOrderID    string
	CustomerCRMID string // "" when the order has no customer id
	Email         string // "" when the payload has none
	FirstName     string
	LastName      string
	TotalCents    int64
	Currency      string
	PaidAt        *time.Time // nil: not paid (yet)
}
