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
	"unicode"
	"unicode/utf8"

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

// The app and privacy topics. Their bodies are signed, but the X-Shopify-Topic header
// that names them is not: a parser takes the topic the header claims and refuses a body
// whose shape belongs to another topic, so that a signed customers/data_request body
// replayed under "customers/redact" cannot delete anything.

// Topics whose payloads this file parses.
const (
	TopicAppUninstalled      = "app/uninstalled"
	TopicCustomerDataRequest = "customers/data_request"
	TopicCustomerRedact      = "customers/redact"
	TopicShopRedact          = "shop/redact"
)

// MaxWebhookBytes caps an app or privacy webhook body (the HTTP layer answers 413 past
// the same 1 MiB). A customers/redact for a customer with many orders lists every order
// id: ~70 000 of them fit.
const MaxWebhookBytes = 1 << 20

// Caps on the strings kept from a payload: they are stored and shown to an operator.
const (
	maxDomainBytes = 255
	maxEmailBytes  = 320 // RFC 5321's 64 + @ + 255
	maxPhoneBytes  = 64
)

var shopDomain = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)

// Uninstalled is what app/uninstalled says: the shop (its REST Shop JSON) that removed
// the app. Its token is revoked at once; its data is to be erased when shop/redact comes,
// 48 hours later.
type Uninstalled struct {
	ShopID     string // numeric
	ShopDomain string // myshopify_domain: compare it with X-Shopify-Shop-Domain
	Name       string
}

// PrivacyRequest is a customers/data_request, customers/redact or shop/redact payload.
type PrivacyRequest struct {
	Topic      string
	ShopID     string // numeric
	ShopDomain string // shop_domain: compare it with X-Shopify-Shop-Domain
	// CustomerID is the customer's GID (gid://shopify/Customer/N), the form the provider
	// stores; "" when the payload names the customer by email or phone only, and for
	// shop/redact.
	CustomerID string
	Email      string
	Phone      string
	// OrderIDs are orders_requested (data_request) or orders_to_redact (redact): numeric
	// order ids, the form ParseOrderWebhook gives CRMOrderID.
	OrderIDs []string
	// DataRequestID is data_request.id (customers/data_request only).
	DataRequestID string
}

// wireUninstalled and wirePrivacy hold every field as raw JSON so that each one's type is
// checked here (a string where Shopify sends a number is refused), and so that a key
// that must be absent can be told from one sent as null.
type wireUninstalled struct {
	ID              json.RawMessage `json:"id"`
	MyshopifyDomain json.RawMessage `json:"myshopify_domain"`
	Name            json.RawMessage `json:"name"`
}

type wirePrivacy struct {
	ShopID          json.RawMessage `json:"shop_id"`
	ShopDomain      json.RawMessage `json:"shop_domain"`
	Customer        json.RawMessage `json:"customer"`
	OrdersRequested json.RawMessage `json:"orders_requested"`
	OrdersToRedact  json.RawMessage `json:"orders_to_redact"`
	DataRequest     json.RawMessage `json:"data_request"`
}

// decodeWebhook checks what every app and privacy body must be (at most MaxWebhookBytes,
// UTF-8, one JSON object and nothing after it, no \u0000, which jsonb refuses) and
// decodes it into v.
func decodeWebhook(raw []byte, v any) error {
	if len(raw) > MaxWebhookBytes {
		return apperr.BadRequestf("the body is over %d bytes", MaxWebhookBytes)
	}
	if !utf8.Valid(raw) {
		return apperr.BadRequestf("the body is not UTF-8")
	}
	if bytes.Contains(raw, []byte(`\u0000`)) {
		return apperr.BadRequestf(`the body holds \u0000, which cannot be stored`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return apperr.BadRequestf("malformed JSON: the body must be a JSON object")
	}
	dec = json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(v); err != nil {
		return apperr.BadRequestf("malformed JSON: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.BadRequestf("malformed JSON: the body must hold a single JSON object")
	}
	return nil
}

// present reports whether a key was sent with a value other than null.
func present(r json.RawMessage) bool { return len(r) > 0 && string(r) != "null" }

// idField reads a required or optional positive integer id (a JSON number, never a
// string: Shopify sends numbers).
func idField(name string, r json.RawMessage, required bool) (string, error) {
	if !present(r) {
		if required {
			return "", apperr.BadRequestf("%s is required", name)
		}
		return "", nil
	}
	s := string(r)
	if !numericID.MatchString(s) || s == "0" || strings.HasPrefix(s, "0") {
		return "", apperr.BadRequestf("%s must be a positive integer, not %.40s", name, s)
	}
	return s, nil
}

// stringField reads an optional string of at most max bytes without control characters.
func stringField(name string, r json.RawMessage, max int) (string, error) {
	if !present(r) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return "", apperr.BadRequestf("%s must be a string", name)
	}
	if len(s) > max {
		return "", apperr.BadRequestf("%s is over %d bytes", name, max)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return "", apperr.BadRequestf("%s holds a control character", name)
	}
	return s, nil
}

func domainField(name string, r json.RawMessage) (string, error) {
	d, err := stringField(name, r, maxDomainBytes)
	if err != nil {
		return "", err
	}
	if d == "" {
		return "", apperr.BadRequestf("%s is required", name)
	}
	if !shopDomain.MatchString(d) {
		return "", apperr.BadRequestf("%s %.80q is not a shop domain (lower-case host name)", name, d)
	}
	return d, nil
}

func idList(name string, r json.RawMessage) ([]string, error) {
	if !present(r) {
		return nil, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(r, &list); err != nil {
		return nil, apperr.BadRequestf("%s must be a list of order ids", name)
	}
	ids := make([]string, 0, len(list))
	for i, x := range list {
		id, err := idField(fmt.Sprintf("%s[%d]", name, i), x, true)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ParseUninstalled reads an app/uninstalled body: the shop's JSON, of which id and
// myshopify_domain are required.
func ParseUninstalled(raw []byte) (Uninstalled, error) {
	var w wireUninstalled
	if err := decodeWebhook(raw, &w); err != nil {
		return Uninstalled{}, err
	}
	id, err := idField("id", w.ID, true)
	if err != nil {
		return Uninstalled{}, err
	}
	domain, err := domainField("myshopify_domain", w.MyshopifyDomain)
	if err != nil {
		return Uninstalled{}, err
	}
	name, err := stringField("name", w.Name, maxDomainBytes)
	if err != nil {
		return Uninstalled{}, err
	}
	return Uninstalled{ShopID: id, ShopDomain: domain, Name: name}, nil
}

// ParsePrivacy reads a privacy topic's body. topic is the X-Shopify-Topic header, which
// is not signed: the body must have that topic's shape.
//   - customers/data_request: customer, data_request.id required; orders_requested
//     optional; no orders_to_redact.
//   - customers/redact: customer required; orders_to_redact optional; no data_request,
//     no orders_requested.
//   - shop/redact: no customer, no orders, no data_request.
//
// Every topic requires shop_id and shop_domain. A customer must name the customer: an
// id, an email or a phone (Shopify may send only the email).
func ParsePrivacy(topic string, raw []byte) (PrivacyRequest, error) {
	var w wirePrivacy
	if err := decodeWebhook(raw, &w); err != nil {
		return PrivacyRequest{}, err
	}
	req := PrivacyRequest{Topic: topic}
	var err error
	if req.ShopID, err = idField("shop_id", w.ShopID, true); err != nil {
		return PrivacyRequest{}, err
	}
	if req.ShopDomain, err = domainField("shop_domain", w.ShopDomain); err != nil {
		return PrivacyRequest{}, err
	}
	refuse := func(key string, r json.RawMessage) error {
		if len(r) > 0 {
			return apperr.BadRequestf("a %s body has no %s: this body belongs to another topic", topic, key)
		}
		return nil
	}
	switch topic {
	case TopicCustomerDataRequest:
		err = errors.Join(refuse("orders_to_redact", w.OrdersToRedact))
		if err == nil {
			req.OrderIDs, err = idList("orders_requested", w.OrdersRequested)
		}
		if err == nil {
			var dr struct {
				ID json.RawMessage `json:"id"`
			}
			if !present(w.DataRequest) || json.Unmarshal(w.DataRequest, &dr) != nil {
				return PrivacyRequest{}, apperr.BadRequestf("data_request must be an object with an id")
			}
			req.DataRequestID, err = idField("data_request.id", dr.ID, true)
		}
	case TopicCustomerRedact:
		err = errors.Join(refuse("data_request", w.DataRequest), refuse("orders_requested", w.OrdersRequested))
		if err == nil {
			req.OrderIDs, err = idList("orders_to_redact", w.OrdersToRedact)
		}
	case TopicShopRedact:
		err = errors.Join(refuse("customer", w.Customer), refuse("data_request", w.DataRequest),
			refuse("orders_requested", w.OrdersRequested), refuse("orders_to_redact", w.OrdersToRedact))
		if err != nil {
			return PrivacyRequest{}, err
		}
		return req, nil
	default:
		return PrivacyRequest{}, apperr.BadRequestf("%.64q is not a privacy topic", topic)
	}
	if err != nil {
		return PrivacyRequest{}, err
	}
	if err := req.readCustomer(w.Customer); err != nil {
		return PrivacyRequest{}, err
	}
	return req, nil
}

func (req *PrivacyRequest) readCustomer(r json.RawMessage) error {
	var c struct {
		ID    json.RawMessage `json:"id"`
		Email json.RawMessage `json:"email"`
		Phone json.RawMessage `json:"phone"`
	}
	if !present(r) || r[0] != '{' || json.Unmarshal(r, &c) != nil {
		return apperr.BadRequestf("customer must be an object")
	}
	id, err := idField("customer.id", c.ID, false)
	if err != nil {
		return err
	}
	if id != "" {
		req.CustomerID = "gid://shopify/Customer/" + id
	}
	if req.Email, err = stringField("customer.email", c.Email, maxEmailBytes); err != nil {
		return err
	}
	if req.Phone, err = stringField("customer.phone", c.Phone, maxPhoneBytes); err != nil {
		return err
	}
	if req.CustomerID == "" && strings.TrimSpace(req.Email) == "" && strings.TrimSpace(req.Phone) == "" {
		return apperr.BadRequestf("customer names no one: it needs an id, an email or a phone")
	}
	return nil
}
