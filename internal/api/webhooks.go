package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
)

// Webhooks configures the CRM webhook endpoints.
type Webhooks struct {
	// Commerce7 sends one Basic auth pair; without it configured (both halves, neither
	// empty) its webhooks are refused.
	Commerce7User, Commerce7Password string
	// Commerce7EchoUser is the webhook "user" of our own API writes, which are ignored.
	Commerce7EchoUser string
	// ShopifySecret signs Shopify webhooks (HMAC-SHA256); without it they are refused.
	// Read it through Server.shopifySecret, never directly.
	ShopifySecret string
	// Commerce7Customer reads a customer from Commerce7, for an order whose payload names
	// a customer tiersync does not know without its email. nil: such orders fail (502).
	Commerce7Customer func(ctx context.Context, clientID, tenant, customerID string) (CRMCustomer, error)
}

// CRMCustomer is what a webhook needs of a CRM customer.
type CRMCustomer struct{ Email, FirstName, LastName string }

// credentialsMatch compares a Basic auth pair with the configured one. Each side is hashed
// first: subtle.ConstantTimeCompare returns at once when the lengths differ, so comparing
// the raw strings would tell a caller the password's length. Both halves are always
// compared, and an empty password never matches, even if one was configured.
func credentialsMatch(user, pass, wantUser, wantPass string) bool {
	if wantUser == "" || wantPass == "" || pass == "" {
		return false
	}
	u, wu := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(wantUser))
	p, wp := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(wantPass))
	return subtle.ConstantTimeCompare(u[:], wu[:])&subtle.ConstantTimeCompare(p[:], wp[:]) == 1
}

func webhookAnswer(w http.ResponseWriter, status string) {
	writeJSON(w, http.StatusOK, map[string]string{"status": status})
}

// c7Webhook is Commerce7's webhook body: {object, action, payload, tenantId, user}.
type c7Webhook struct {
	Object   string          `json:"object"`
	Action   string          `json:"action"`
	Payload  json.RawMessage `json:"payload"`
	TenantID string          `json:"tenantId"`
	User     json.RawMessage `json:"user"`
}

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

// commerce7Webhook is POST /webhooks/commerce7. Commerce7 signs nothing: the Basic auth
// pair it was configured with is the proof. Orders are deduplicated on id + action +
// updatedAt (Commerce7 has no event id).
func (s *Server) commerce7Webhook(w http.ResponseWriter, r *http.Request) {
	cfg := s.opts.Webhooks
	user, pass, ok := r.BasicAuth()
	if !ok || !credentialsMatch(user, pass, cfg.Commerce7User, cfg.Commerce7Password) {
		w.Header().Set("WWW-Authenticate", `Basic realm="tiersync webhooks"`)
		writeError(w, http.StatusUnauthorized, "missing or wrong Basic auth for Commerce7 webhooks")
		return
	}
	raw, err := readJSONBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	var hook c7Webhook
	if err := json.Unmarshal(raw, &hook); err != nil {
		fail(w, r, apperr.BadRequestf("malformed JSON: %v", err))
		return
	}
	if hook.TenantID == "" {
		fail(w, r, apperr.BadRequestf("tenantId is required"))
		return
	}
	client, err := s.opts.Store.ClientByTenant(r.Context(), membership.CRMCommerce7, hook.TenantID)
	if err != nil {
		fail(w, r, err)
		return
	}
	if hook.Object != "Order" {
		webhookAnswer(w, membership.WebhookIgnored)
		return
	}
	var echo string
	if json.Unmarshal(hook.User, &echo) == nil && echo != "" && cfg.Commerce7EchoUser != "" && echo == cfg.Commerce7EchoUser {
		webhookAnswer(w, membership.WebhookIgnored) // our own write, echoed back
		return
	}
	if len(hook.Action) > maxC7ActionBytes {
		fail(w, r, apperr.BadRequestf("action is longer than %d bytes", maxC7ActionBytes))
		return
	}
	order, err := parseC7Order(hook.Payload)
	if err != nil {
		fail(w, r, err)
		return
	}
	ev := membership.OrderEvent{ClientID: client.ID, Provider: membership.CRMCommerce7, Topic: "Order/" + hook.Action,
		ExternalID: order.CRMOrderID + ":" + hook.Action + ":" + order.updatedAt, Payload: raw, Order: order.Order}
	res, err := s.opts.Store.ApplyOrder(r.Context(), ev)
	if errors.Is(err, membership.ErrNeedCustomer) {
		if cfg.Commerce7Customer == nil {
			writeError(w, http.StatusBadGateway, "the order's customer is unknown and its email cannot be read from Commerce7")
			return
		}
		c, lookupErr := cfg.Commerce7Customer(r.Context(), client.ID, client.Tenant, order.CustomerCRMID)
		if lookupErr != nil {
			s.log.Warn("commerce7 customer lookup", "customer_id", order.CustomerCRMID, "error", lookupErr.Error())
			writeError(w, http.StatusBadGateway, "reading the order's customer from Commerce7 failed; retry later")
			return
		}
		ev.Order.Email, ev.Order.FirstName, ev.Order.LastName = c.Email, c.FirstName, c.LastName
		res, err = s.opts.Store.ApplyOrder(r.Context(), ev)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	webhookAnswer(w, res.Status)
}

type parsedC7Order struct {
	membership.Order
	updatedAt string
}

func parseC7Order(payload json.RawMessage) (parsedC7Order, error) {
	if len(payload) == 0 || string(payload) == "null" {
		return parsedC7Order{}, apperr.BadRequestf("payload is required")
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var p c7Order
	if err := dec.Decode(&p); err != nil {
		return parsedC7Order{}, apperr.BadRequestf("payload: %v", err)
	}
	if p.ID == "" {
		return parsedC7Order{}, apperr.BadRequestf("payload.id is required")
	}
	if len(p.Total) == 0 || string(p.Total) == "null" {
		return parsedC7Order{}, apperr.BadRequestf("payload.total is required")
	}
	// Commerce7 sends money as a JSON integer of cents: not a string, not a fraction.
	total, err := strconv.ParseInt(string(p.Total), 10, 64)
	if errors.Is(err, strconv.ErrRange) || total > membership.MaxOrderCents {
		// The same cap as Shopify's total_price (ParseDecimalCents).
		return parsedC7Order{}, apperr.BadRequestf("payload.total %s is more than %d cents", p.Total, int64(membership.MaxOrderCents))
	}
	if err != nil || total < 0 {
		return parsedC7Order{}, apperr.BadRequestf("payload.total %s is not a non-negative integer number of cents", p.Total)
	}
	// updatedAt is part of the dedupe key, which lives in a unique index.
	if len(p.UpdatedAt) > maxVersionBytes {
		return parsedC7Order{}, apperr.BadRequestf("payload.updatedAt is longer than %d bytes", maxVersionBytes)
	}
	o := parsedC7Order{Order: membership.Order{CRMOrderID: p.ID, CustomerCRMID: p.CustomerID, TotalCents: total}, updatedAt: p.UpdatedAt}
	if p.OrderPaidDate != nil && *p.OrderPaidDate != "" {
		t, err := time.Parse(time.RFC3339, *p.OrderPaidDate)
		if err != nil {
			return parsedC7Order{}, apperr.BadRequestf("payload.orderPaidDate %q is not an RFC 3339 timestamp", *p.OrderPaidDate)
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

// Caps of the webhook fields that end up in dedupe keys (unique indexes).
const (
	maxC7ActionBytes = 64
	maxVersionBytes  = 64 // Commerce7 updatedAt, Shopify updated_at and financial_status
)

// shopifyOrder is the REST order JSON of Shopify's orders/* webhooks.
type shopifyOrder struct {
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

// shopifySecret returns the secret that signs the shop's webhooks. Today one app, and so
// one secret (SHOPIFY_WEBHOOK_SECRET), serves every shop; per-shop secrets (each app
// signs with its own client secret) are looked up here, and nothing else changes.
func (s *Server) shopifySecret(_ context.Context, _ string) (string, error) {
	return s.opts.Webhooks.ShopifySecret, nil
}

// shopifySigned reports whether header is the base64 HMAC-SHA256 of raw with secret.
func shopifySigned(secret string, raw []byte, header string) bool {
	given, err := base64.StdEncoding.DecodeString(header)
	if secret == "" || err != nil || len(given) == 0 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(raw)
	return hmac.Equal(mac.Sum(nil), given)
}

// shopifyWebhook is POST /webhooks/shopify. The HMAC-SHA256 of the raw body, with the
// secret of the shop the header names, proves the body and nothing else: the shop, topic
// and event id headers are not signed. So what the order does is read from the body
// (financial_status, not the topic), a replay of one order version under a new event id
// is a duplicate (OrderEvent.OrderVersion), and an order id already seen under another
// shop is refused (membership's claimOrder): with one secret for every shop, the same
// signed body sent with another X-Shopify-Shop-Domain verifies.
func (s *Server) shopifyWebhook(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	shop := strings.TrimSpace(r.Header.Get("X-Shopify-Shop-Domain"))
	secret, err := s.shopifySecret(r.Context(), shop)
	if err != nil {
		fail(w, r, err)
		return
	}
	if !shopifySigned(secret, raw, r.Header.Get("X-Shopify-Hmac-Sha256")) {
		writeError(w, http.StatusUnauthorized, "missing or wrong X-Shopify-Hmac-Sha256")
		return
	}
	if err := checkJSONText(raw); err != nil {
		fail(w, r, err)
		return
	}
	if shop == "" {
		fail(w, r, apperr.BadRequestf("X-Shopify-Shop-Domain is required"))
		return
	}
	client, err := s.opts.Store.ClientByTenant(r.Context(), membership.CRMShopify, shop)
	if err != nil {
		fail(w, r, err)
		return
	}
	topic := r.Header.Get("X-Shopify-Topic")
	if topic != "orders/paid" && topic != "orders/create" {
		webhookAnswer(w, membership.WebhookIgnored)
		return
	}
	eventID := r.Header.Get("X-Shopify-Event-Id")
	if eventID == "" {
		eventID = r.Header.Get("X-Shopify-Webhook-Id")
	}
	if eventID == "" {
		fail(w, r, apperr.BadRequestf("X-Shopify-Event-Id (or X-Shopify-Webhook-Id) is required"))
		return
	}
	order, err := parseShopifyOrder(raw)
	if err != nil {
		fail(w, r, err)
		return
	}
	res, err := s.opts.Store.ApplyOrder(r.Context(), membership.OrderEvent{ClientID: client.ID, Provider: membership.CRMShopify,
		ExternalID: eventID, OrderVersion: order.version, Topic: topic, Payload: raw, Order: order.Order})
	if errors.Is(err, membership.ErrNeedCustomer) {
		err = apperr.BadRequestf("the order has a customer id but no email, and the customer is unknown")
	}
	if apperr.KindOf(err) == apperr.Conflict {
		s.log.Warn("shopify webhook refused: the order belongs to another shop (a replayed body?)",
			"shop", shop, "order_id", order.CRMOrderID, "event_id", eventID)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	webhookAnswer(w, res.Status)
}

type parsedShopifyOrder struct {
	membership.Order
	// version identifies this state of the order: id, updated_at, financial_status.
	version string
}

var shopifyNumericID = regexp.MustCompile(`^[0-9]{1,20}$`)

// parseShopifyOrder reads the order JSON. "Paid" comes from financial_status, which the
// signature covers, never from the X-Shopify-Topic header, which it does not.
// Only "paid" qualifies. pending, authorized and partially_paid are not paid (yet);
// refunded and voided never were or no longer are; partially_refunded was paid, but its
// total_price still counts the refunded part, and an orders/paid or orders/create
// delivery does not carry that state in practice: it is ignored rather than counted at a
// total the customer no longer paid. Each such delivery is recorded (a redelivery is a
// duplicate) and changes nothing.
func parseShopifyOrder(raw []byte) (parsedShopifyOrder, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var p shopifyOrder
	if err := dec.Decode(&p); err != nil {
		return parsedShopifyOrder{}, apperr.BadRequestf("malformed JSON: %v", err)
	}
	// The raw body is stored as jsonb, which refuses anything after the object.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return parsedShopifyOrder{}, apperr.BadRequestf("malformed JSON: the body must hold a single JSON object")
	}
	if p.ID == nil || p.ID.String() == "" {
		return parsedShopifyOrder{}, apperr.BadRequestf("id is required")
	}
	if !shopifyNumericID.MatchString(p.ID.String()) {
		return parsedShopifyOrder{}, apperr.BadRequestf("id %.40s is not a Shopify order id (a positive integer)", p.ID.String())
	}
	if p.TotalPrice == nil {
		return parsedShopifyOrder{}, apperr.BadRequestf("total_price is required")
	}
	total, err := membership.ParseDecimalCents(*p.TotalPrice)
	if err != nil {
		return parsedShopifyOrder{}, apperr.BadRequestf("total_price: %v", err)
	}
	if len(p.UpdatedAt) > maxVersionBytes || len(p.FinancialStatus) > maxVersionBytes {
		return parsedShopifyOrder{}, apperr.BadRequestf("updated_at and financial_status are limited to %d bytes", maxVersionBytes)
	}
	o := parsedShopifyOrder{Order: membership.Order{CRMOrderID: p.ID.String(), Email: p.Email, TotalCents: total, Currency: p.Currency}}
	if c := p.Customer; c != nil {
		o.CustomerCRMID = c.AdminGraphQLAPIID
		if o.CustomerCRMID == "" && c.ID != "" {
			if !shopifyNumericID.MatchString(c.ID.String()) {
				return parsedShopifyOrder{}, apperr.BadRequestf("customer.id %.40s is not a Shopify customer id (a positive integer)", c.ID.String())
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
	o.version = o.CRMOrderID + "@" + version + "/" + p.FinancialStatus
	return o, nil
}
