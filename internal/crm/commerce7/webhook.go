package commerce7

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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
	Action    string // "Create" | "Update" | "Delete"
	UpdatedAt string // the payload's updatedAt
	// Refund: the order pays money back (Commerce7 makes a refund an order of its own);
	// TotalCents is then the amount refunded, never negative. RefundOf is the original
	// order's id when the payload names it.
	Refund   bool
	RefundOf string
	// Void: the order was cancelled, or deleted (action Delete): it is no payment, and
	// leaves lifetime value.
	Void bool
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
	if h.isEcho(echoUser) {
		return OrderWebhook{}, false, nil
	}
	if len(h.Action) > maxActionBytes {
		return OrderWebhook{}, false, apperr.BadRequestf("action is longer than %d bytes", maxActionBytes)
	}
	if !knownAction(h.Action) {
		return OrderWebhook{}, false, nil
	}
	if h.Action == actionDelete {
		o, err = parseDeletedOrder(h.Payload)
	} else {
		o, err = parseOrder(h.Payload)
	}
	if err != nil {
		return OrderWebhook{}, false, err
	}
	o.Action = h.Action
	return o, true, nil
}

// isEcho reports whether the webhook is our own API write echoed back: its user is
// echoUser (an empty echoUser ignores nothing).
func (h Webhook) isEcho(echoUser string) bool {
	var user string
	return json.Unmarshal(h.User, &user) == nil && user != "" && echoUser != "" && user == echoUser
}

const actionDelete = "Delete"

// knownAction reports whether tiersync acts on a webhook action. Others (Commerce7 also
// sends "Bulk Update", whose payload shape no source documents) are answered "ignored":
// refusing them with a 400 would make Commerce7 retry them and, after 48 hours of
// failures, disable the whole webhook.
func knownAction(action string) bool {
	return action == "Create" || action == "Update" || action == actionDelete
}

// parseDeletedOrder reads the payload of an Order Delete: only the id is required (what a
// deleted object's payload carries beyond it is not documented), and a deleted order is
// no payment, whatever else it says.
func parseDeletedOrder(payload json.RawMessage) (OrderWebhook, error) {
	var p struct {
		ID        string `json:"id"`
		UpdatedAt string `json:"updatedAt"`
	}
	if len(payload) == 0 || string(payload) == "null" {
		return OrderWebhook{}, apperr.BadRequestf("payload is required")
	}
	if err := json.Unmarshal(payload, &p); err != nil {
		return OrderWebhook{}, apperr.BadRequestf("payload: %v", err)
	}
	if p.ID == "" {
		return OrderWebhook{}, apperr.BadRequestf("payload.id is required")
	}
	if len(p.UpdatedAt) > maxVersionBytes {
		return OrderWebhook{}, apperr.BadRequestf("payload.updatedAt is longer than %d bytes", maxVersionBytes)
	}
	return OrderWebhook{Order: crm.Order{CRMOrderID: p.ID}, UpdatedAt: p.UpdatedAt, Void: true}, nil
}

// c7Order is an Order webhook's payload, as much of it as tiersync reads.
type c7Order struct {
	ID            string          `json:"id"`
	CustomerID    string          `json:"customerId"`
	Total         json.RawMessage `json:"total"`
	OrderPaidDate *string         `json:"orderPaidDate"`
	UpdatedAt     string          `json:"updatedAt"`
	// What marks a refund or a cancellation. Commerce7's order webhooks carry
	// paymentStatus; its values, and the field naming a refund order and its original,
	// are not documented where we could read them: these are the plausible shapes.
	PaymentStatus string `json:"paymentStatus"`
	Status        string `json:"status"`
	Type          string `json:"type"`
	PurchaseType  string `json:"purchaseType"`
	RefundOf      string `json:"refundedOrderId"`
	LinkedOrderID string `json:"linkedOrderId"`
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
	if err == nil && total < -crm.MaxOrderCents {
		return OrderWebhook{}, apperr.BadRequestf("payload.total %s is more than %d cents", p.Total, int64(crm.MaxOrderCents))
	}
	// A refund is an order of its own, marked as one, or with a negative total once paid
	// (or refunded): its magnitude is the amount paid back. A negative total on an order
	// that is neither is refused, as before.
	refund := isRefundType(p.Type) || isRefundType(p.PurchaseType)
	if err == nil && total < 0 && !refund && (p.OrderPaidDate != nil && *p.OrderPaidDate != "" || isRefund(p.PaymentStatus)) {
		refund = true
	}
	if err != nil || total < 0 && !refund {
		return OrderWebhook{}, apperr.BadRequestf("payload.total %s is not a non-negative integer number of cents", p.Total)
	}
	if total < 0 {
		total = -total
	}
	// updatedAt is part of the dedupe key, which lives in a unique index.
	if len(p.UpdatedAt) > maxVersionBytes {
		return OrderWebhook{}, apperr.BadRequestf("payload.updatedAt is longer than %d bytes", maxVersionBytes)
	}
	o := OrderWebhook{Order: crm.Order{CRMOrderID: p.ID, CustomerCRMID: p.CustomerID, TotalCents: total}, UpdatedAt: p.UpdatedAt,
		Refund: refund, Void: isCancelled(p.PaymentStatus) || isCancelled(p.Status)}
	if refund {
		o.RefundOf = p.RefundOf
		if o.RefundOf == "" {
			o.RefundOf = p.LinkedOrderID
		}
		if len(o.RefundOf) > maxVersionBytes {
			// An id we only compare with order ids; never a reason to refuse the refund.
			o.RefundOf = ""
		}
	}
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

// isRefund reads a payment status that says the order was refunded ("Refunded",
// "Partially Refunded"), in any case.
func isRefund(v string) bool { return strings.Contains(strings.ToLower(v), "refund") }

// isRefundType reads an order type that says "Refund", in any case.
func isRefundType(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "refund") }

// isCancelled reads a status that says the order was cancelled or voided, in any case.
func isCancelled(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "cancelled", "canceled", "void", "voided":
		return true
	}
	return false
}

// ObjectClubMembership is the webhook object of club memberships.
const ObjectClubMembership = "Club Membership"

// MembershipWebhook is the club membership a Club Membership webhook carries.
type MembershipWebhook struct {
	ID            string
	CustomerCRMID string // "" when the payload has none (a Delete may carry only the id)
	ClubID        string
	Status        string     // "Active" | "Cancelled" | "On Hold", as Commerce7 sends it
	SignupDate    *time.Time // nil: not in the payload
	CancelDate    *time.Time // nil: not cancelled
	// The customer's email and names, when the payload embeds the customer.
	Email, FirstName, LastName string
	Action                     string // "Create" | "Update" | "Delete"
	UpdatedAt                  string
}

// Topic is the webhook's topic as webhook_events records it.
func (m MembershipWebhook) Topic() string { return ObjectClubMembership + "/" + m.Action }

// EventID is the webhook's dedupe key: the membership id, the action and its updatedAt
// (as for orders), behind a prefix that keeps it apart from an order of the same id.
func (m MembershipWebhook) EventID() string {
	return "club-membership:" + m.ID + ":" + m.Action + ":" + m.UpdatedAt
}

// Cancelled reports whether the membership has ended at now: deleted, status Cancelled,
// or a cancelDate that has passed (an Active membership with a cancelDate ends on it).
func (m MembershipWebhook) Cancelled(now time.Time) bool {
	return m.Action == actionDelete || strings.EqualFold(m.Status, "Cancelled") ||
		m.CancelDate != nil && !m.CancelDate.After(now)
}

// Membership returns the club membership a Club Membership webhook carries. ok is false,
// without an error, for another object or our own API write echoed back.
func (h Webhook) Membership(echoUser string) (m MembershipWebhook, ok bool, err error) {
	if h.Object != ObjectClubMembership || h.isEcho(echoUser) {
		return MembershipWebhook{}, false, nil
	}
	if len(h.Action) > maxActionBytes {
		return MembershipWebhook{}, false, apperr.BadRequestf("action is longer than %d bytes", maxActionBytes)
	}
	if !knownAction(h.Action) {
		return MembershipWebhook{}, false, nil
	}
	m, err = parseMembership(h.Payload, h.Action == actionDelete)
	if err != nil {
		return MembershipWebhook{}, false, err
	}
	m.Action = h.Action
	return m, true, nil
}

// c7Membership is a Club Membership webhook's payload, as much of it as tiersync reads.
type c7Membership struct {
	ID         string  `json:"id"`
	CustomerID string  `json:"customerId"`
	ClubID     string  `json:"clubId"`
	Status     string  `json:"status"`
	SignupDate *string `json:"signupDate"`
	CancelDate *string `json:"cancelDate"`
	UpdatedAt  string  `json:"updatedAt"`
	Customer   *struct {
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
		Emails    []struct {
			Email string `json:"email"`
		} `json:"emails"`
	} `json:"customer"`
}

// maxStatusBytes caps a membership status: it is compared, never stored, but a megabyte
// of status is no status.
const maxStatusBytes = 64

// parseMembership reads the payload of a Club Membership webhook. A deleted membership
// needs only its id; any other needs its customer and club.
func parseMembership(payload json.RawMessage, deleted bool) (MembershipWebhook, error) {
	if len(payload) == 0 || string(payload) == "null" {
		return MembershipWebhook{}, apperr.BadRequestf("payload is required")
	}
	var p c7Membership
	if err := json.Unmarshal(payload, &p); err != nil {
		return MembershipWebhook{}, apperr.BadRequestf("payload: %v", err)
	}
	if p.ID == "" {
		return MembershipWebhook{}, apperr.BadRequestf("payload.id is required")
	}
	if !deleted && (p.CustomerID == "" || p.ClubID == "") {
		return MembershipWebhook{}, apperr.BadRequestf("payload.customerId and payload.clubId are required")
	}
	if len(p.UpdatedAt) > maxVersionBytes {
		return MembershipWebhook{}, apperr.BadRequestf("payload.updatedAt is longer than %d bytes", maxVersionBytes)
	}
	if len(p.Status) > maxStatusBytes {
		return MembershipWebhook{}, apperr.BadRequestf("payload.status is longer than %d bytes", maxStatusBytes)
	}
	m := MembershipWebhook{ID: p.ID, CustomerCRMID: p.CustomerID, ClubID: p.ClubID, Status: p.Status, UpdatedAt: p.UpdatedAt}
	var err error
	if m.SignupDate, err = parseDate("signupDate", p.SignupDate); err != nil {
		return MembershipWebhook{}, err
	}
	if m.CancelDate, err = parseDate("cancelDate", p.CancelDate); err != nil {
		return MembershipWebhook{}, err
	}
	if c := p.Customer; c != nil {
		m.Email, m.FirstName, m.LastName = c.Email, c.FirstName, c.LastName
		if m.Email == "" && len(c.Emails) > 0 {
			m.Email = c.Emails[0].Email
		}
	}
	return m, nil
}

// parseDate reads an RFC 3339 timestamp, or a bare date (midnight UTC); null or "" is nil.
func parseDate(field string, v *string) (*time.Time, error) {
	if v == nil || *v == "" {
		return nil, nil
	}
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, *v); err == nil {
			return &t, nil
		}
	}
	return nil, apperr.BadRequestf("payload.%s %q is not an RFC 3339 timestamp", field, clip(*v, 40))
}

// clip shortens s to at most n bytes for an error message, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
