package commerce7

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/crm"
)

// Webhook parsing. Every error here is an apperr.BadRequest: the webhook contract
// answers a malformed body 400, and the HTTP layer passes these errors on as they are.

// Caps of the webhook fields that end up in dedupe keys (unique indexes).
const (
	maxActionBytes  = 64
	maxVersionBytes = 64 // payload.updatedAt
)

// Webhook is Commerce7's webhook body: {object, action, payload, tenantId, user}.
type Webhook struct {
	Object   string          `json:"object"`
	Action   string          `json:"action"`
	Payload  json.RawMessage `json:"payload"`
	TenantID string          `json:"tenantId"`
	User     json.RawMessage `json:"user"`
}

// ParseWebhook reads a webhook body: its envelope only, so that the caller can find the
// tenant's client (a 404) before the payload is judged.
func ParseWebhook(raw []byte) (Webhook, error) {
	var hook Webhook
	if err := json.Unmarshal(raw, &hook); err != nil {
		return Webhook{}, apperr.BadRequestf("malformed JSON: %v", err)
	}
	if hook.TenantID == "" {
		return Webhook{}, apperr.BadRequestf("tenantId is required")
	}
	return hook, nil
}

// OrderWebhook is the order an Order webhook carries, with what deduplicates it.
type OrderWebhook struct {
	crm.Order
	Action    string // "Create" | "Update"
	UpdatedAt string // the payload's updatedAt
}

// Topic is the webhook's topic as webhook_events records it.
func (o OrderWebhook) Topic() string { return "Order/" + o.Action }

// EventID is the webhook's dedupe key: Commerce7 sends no event id, so it is the order id,
// the action and the order's updatedAt.
func (o OrderWebhook) EventID() string { return o.CRMOrderID + ":" + o.Action + ":" + o.UpdatedAt }

// Order returns the order an Order webhook carries. ok is false, without an error, for
// a webhook tiersync does not act on: another object than an order, or our own API write
// echoed back (user is echoUser; an empty echoUser ignores nothing).
func (h Webhook) Order(echoUser string) (o OrderWebhook, ok bool, err error) {
	if h.Object != "Order" {
		return OrderWebhook{}, false, nil
	}
	var user string
	if json.Unmarshal(h.User, &user) == nil && user != "" && echoUser != "" && user == echoUser {
		return OrderWebhook{}, false, nil
	}
	if len(h.Action) > maxActionBytes {
		return OrderWebhook{}, false, apperr.BadRequestf("action is longer than %d bytes", maxActionBytes)
	}
	o, err = parseOrder(h.Payload)
	if err != nil {
		return OrderWebhook{}, false, err
	}
	o.Action = h.Action
	return o, true, nil
}

// c7Order is an Order webhook's payload, as much of it as tiersync reads.
type c7Order struct {
	ID            string          `json:"id"`
	CustomerID    string          `json:"customerId"`
	Total         json.RawMessage `json:"total"`
	OrderPaidDate *string         `json:"orderPaidDate"`
	UpdatedAt     string          `json:"updatedAt"`
	Customer      *struct {
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Emails    []struct {
			Email string `json:"email"`
		} `json:"emails"`
	} `json:"customer"`
}

// parseOrder reads the payload of an Order webhook. It qualifies only once paid
// (orderPaidDate set).
func parseOrder(payload json.RawMessage) (OrderWebhook, error) {
	if len(payload) == 0 || string(payload) == "null" {
		return OrderWebhook{}, apperr.BadRequestf("payload is required")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var p c7Order
	if err := dec.Decode(&p); err != nil {
		return OrderWebhook{}, apperr.BadRequestf("payload: %v", err)
	}
	if p.ID == "" {
		return OrderWebhook{}, apperr.BadRequestf("payload.id is required")
	}
	if len(p.Total) == 0 || string(p.Total) == "null" {
		return OrderWebhook{}, apperr.BadRequestf("payload.total is required")
	}
	// Commerce7 sends money as a JSON integer of cents: not a string, not a fraction.
	total, err := strconv.ParseInt(string(p.Total), 10, 64)
	if errors.Is(err, strconv.ErrRange) || total > crm.MaxOrderCents {
		// The same cap as Shopify's total_price.
		return OrderWebhook{}, apperr.BadRequestf("payload.total %s is more than %d cents", p.Total, int64(crm.MaxOrderCents))
	}
	if err != nil || total < 0 {
		return OrderWebhook{}, apperr.BadRequestf("payload.total %s is not a non-negative integer number of cents", p.Total)
	}
	// updatedAt is part of the dedupe key, which lives in a unique index.
	if len(p.UpdatedAt) > maxVersionBytes {
		return OrderWebhook{}, apperr.BadRequestf("payload.updatedAt is longer than %d bytes", maxVersionBytes)
	}
	o := OrderWebhook{Order: crm.Order{CRMOrderID: p.ID, CustomerCRMID: p.CustomerID, TotalCents: total}, UpdatedAt: p.UpdatedAt}
	if p.OrderPaidDate != nil && *p.OrderPaidDate != "" {
		t, err := time.Parse(time.RFC3339, *p.OrderPaidDate)
		if err != nil {
			return OrderWebhook{}, apperr.BadRequestf("payload.orderPaidDate %q is not an RFC 3339 timestamp", *p.OrderPaidDate)
		}
		o.PaidAt = &t
	}
	if c := p.Customer; c != nil {
		o.Email, o.FirstName, o.LastName = c.Email, c.FirstName, c.LastName
		if o.Email == "" && len(c.Emails) > 0 {
			o.Email = c.Emails[0].Email
		}
	}
	return o, nil
}
