// Package shopify is the Shopify Provider: an Admin GraphQL client that paces itself by
// Shopify's calculated query cost, and tier membership as a customer tag (tagsAdd /
// tagsRemove, never customerUpdate, which would replace the merchant's own tags) plus
// metafields in the "tiersync" namespace (tier, expires_at).
package shopify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/outbound"
)

// Defaults.
const (
	DefaultURL     = "https://{shop}"
	DefaultVersion = "2026-10" // newest stable on 2026-11-30, supported to 2027-10-01 or later (docs/crm-assumptions.md)
)

// Config is shared by every shop's client in the process.
type Config struct {
	// BaseURL is SHOPIFY_API_URL: "{shop}" is replaced by the shop's domain. Without the
	// placeholder every shop's calls go to the same URL (a fake, which tells shops apart
	// by their token).
	BaseURL string
	Version string // SHOPIFY_API_VERSION
	// Timeout bounds each HTTP request (shorter than the queue's lease), and is also the
	// longest the client waits for its cost bucket before giving the row back as throttled.
	Timeout time.Duration
	Limiter crm.Limiter
	// HTTP is the transport; nil: a client of its own with Timeout. Either way the client
	// used is a copy that refuses redirects (outbound.NoRedirects).
	HTTP *http.Client
	Now  func() time.Time
	// Wait pauses for d (nil: a timer). Tests inject one that moves their clock.
	Wait func(ctx context.Context, d time.Duration) error
	// OnDeprecated hears of every answer carrying X-Shopify-API-Deprecated-Reason (the
	// version is near its end, or the operation used a deprecated field): op is the
	// operation, reason the header, cleaned. nil: ignored.
	OnDeprecated func(shop, op, reason string)
	// OnNote hears of what the client did differently from what it was asked, which the
	// caller should surface: a customer created without a phone Shopify refused, a webhook
	// subscription of the topic that delivers elsewhere. nil: ignored.
	OnNote func(shop, op, note string)
}

// Client talks to Shopify for every shop.
type Client struct {
	cfg  Config
	http *http.Client

	mu      sync.Mutex
	buckets map[string]*bucket // by shop: what the last answer said of its cost bucket
}

// bucket is a shop's cost bucket as last reported by Shopify.
type bucket struct {
	max, available, restoreRate float64
	at                          time.Time
}

// availableAt is what the bucket holds at now: it restores continuously.
func (b *bucket) availableAt(now time.Time) float64 {
	return math.Min(b.max, b.available+now.Sub(b.at).Seconds()*b.restoreRate)
}

// New makes a client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultURL
	}
	if _, err := url.ParseRequestURI(strings.ReplaceAll(cfg.BaseURL, "{shop}", "shop.myshopify.com")); err != nil {
		return nil, fmt.Errorf("shopify: base URL %q: %w", cfg.BaseURL, err)
	}
	if cfg.Version == "" {
		cfg.Version = DefaultVersion
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Limiter == nil {
		cfg.Limiter = crm.NoLimit{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wait == nil {
		cfg.Wait = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	// Never follow a redirect, not even with a client passed in Config.HTTP: Go keeps
	// X-Shopify-Access-Token on a redirect to another host, so following one would give
	// the shop's token to whoever the answer points at.
	hc := outbound.NoRedirects(cfg.HTTP, cfg.Timeout)
	return &Client{cfg: cfg, http: hc, buckets: map[string]*bucket{}}, nil
}

// Provider is the client bound to one shop, with its (decrypted) Admin API token: a
// permanent one (StaticToken). Rotating tokens go through ProviderWith.
func (c *Client) Provider(clientID, shop, token string) *Provider {
	return c.ProviderWith(clientID, shop, StaticToken(token))
}

func (c *Client) endpoint(shop string) string {
	base := strings.TrimRight(strings.ReplaceAll(c.cfg.BaseURL, "{shop}", shop), "/")
	return base + "/admin/api/" + c.cfg.Version + "/graphql.json"
}

// costStatus is extensions.cost of an answer.
type costStatus struct {
	RequestedQueryCost float64  `json:"requestedQueryCost"`
	ActualQueryCost    *float64 `json:"actualQueryCost"`
	ThrottleStatus     struct {
		MaximumAvailable   float64 `json:"maximumAvailable"`
		CurrentlyAvailable float64 `json:"currentlyAvailable"`
		RestoreRate        float64 `json:"restoreRate"`
	} `json:"throttleStatus"`
}

type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

type gqlResponse struct {
	Data       json.RawMessage `json:"data"`
	Errors     json.RawMessage `json:"errors"` // an array, or a plain string on 401/403
	Extensions struct {
		Cost *costStatus `json:"cost"`
	} `json:"extensions"`
}

// refusedAgainWait is how long a row waits after Shopify refused a just-renewed token.
const refusedAgainWait = 5 * time.Second

// waitForBudget waits until the shop's bucket can pay cost, as far as the last answer
// tells. A wait longer than the request timeout gives the row back as throttled instead
// of parking a worker.
func (c *Client) waitForBudget(ctx context.Context, shop string, cost float64, op string) error {
	c.mu.Lock()
	b := c.buckets[shop]
	var wait time.Duration
	if b != nil && b.restoreRate > 0 {
		if have := b.availableAt(c.cfg.Now()); have < cost {
			wait = time.Duration((cost - have) / b.restoreRate * float64(time.Second))
		}
	}
	c.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	if wait > c.cfg.Timeout {
		return &crm.Error{Class: crm.Throttled, CRM: "shopify", Op: op, RetryAfter: wait,
			Message: fmt.Sprintf("cost bucket too low for %.0f points; restores in %v", cost, wait.Round(time.Millisecond))}
	}
	return c.cfg.Wait(ctx, wait)
}

// lowReserve is the share of a shop's cost bucket a bulk read (reconciliation's listing)
// leaves for live work: the bucket is the shop's, shared by every request tiersync sends
// it, so a listing that drained it would make the next enrollment's mutations wait or be
// THROTTLED. 20 % of the standard 2 000 points is some 40 mutations.
const lowReserve = 0.2

// waitLeavingReserve waits, as waitForBudget does, until the shop's bucket can pay cost
// and still hold lowReserve of itself.
func (c *Client) waitLeavingReserve(ctx context.Context, shop string, cost float64, op string) error {
	c.mu.Lock()
	var reserve float64
	if b := c.buckets[shop]; b != nil {
		reserve = lowReserve * b.max
	}
	c.mu.Unlock()
	return c.waitForBudget(ctx, shop, cost+reserve, op)
}

// spent records what an answer said of the bucket.
func (c *Client) spent(shop string, cost *costStatus) {
	if cost == nil || cost.ThrottleStatus.MaximumAvailable == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buckets[shop] = &bucket{max: cost.ThrottleStatus.MaximumAvailable, available: cost.ThrottleStatus.CurrentlyAvailable,
		restoreRate: cost.ThrottleStatus.RestoreRate, at: c.cfg.Now()}
}

// graphql sends one operation whose cost is at most cost points, and decodes its data.
func (p *Provider) graphql(ctx context.Context, op string, cost float64, query string, vars map[string]any, out any) error {
	c := p.c
	// Every message is cleaned (crm.CleanText) before it becomes an error: it may quote
	// Shopify's answer, and it ends up in error_message.
	fail := func(class crm.Class, status int, msg string, err error) error {
		return &crm.Error{Class: class, CRM: "shopify", Op: op, Status: status, Message: crm.CleanText(msg, crm.MaxQuoted), Err: err}
	}
	if err := c.waitForBudget(ctx, p.shop, cost, op); err != nil {
		var e *crm.Error
		if errors.As(err, &e) {
			return err
		}
		return fail(crm.Retryable, 0, "waiting for the cost bucket: "+err.Error(), err)
	}
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fail(crm.Permanent, 0, "encode request: "+err.Error(), err)
	}
	token, err := p.tokens.Token(ctx)
	if err != nil {
		return tokenError(op, "get the access token", err)
	}
	resp, raw, err := p.send(ctx, op, token, body)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		// The token expired (24 h client credentials, 60 min offline tokens) or another
		// replica rotated it: renew once and send once more. A second 401 is the answer,
		// so a token Shopify keeps refusing never loops.
		fresh, err := p.tokens.Renew(ctx, token)
		switch {
		case errors.Is(err, ErrNotRenewable):
			// A static token: Shopify's 401 below is the answer (permanent).
		case err != nil:
			return tokenError(op, "renew the access token", err)
		case fresh == "":
			return fail(crm.Retryable, 0, "renewing the access token gave no token", nil)
		case fresh != token:
			if resp, raw, err = p.send(ctx, op, fresh, body); err != nil {
				return err
			}
			if resp.StatusCode == http.StatusUnauthorized {
				// Refused again, with a token just renewed (by this worker or another):
				// the app was uninstalled or its credentials changed a moment ago. Not
				// this row's fault: it waits without spending an attempt, and its next
				// attempt's renewal, refused by the token endpoint, holds the client's
				// rows and says why (shopifyapp) instead of failing them one by one.
				return &crm.Error{Class: crm.Throttled, CRM: "shopify", Op: op, Status: resp.StatusCode, RetryAfter: refusedAgainWait,
					Message: "Shopify refused a token renewed a moment ago (app uninstalled, or credentials changed?); the row waits"}
			}
		}
	}
	var g gqlResponse
	decodeErr := json.Unmarshal(raw, &g)
	c.spent(p.shop, g.Extensions.Cost)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body may not be Shopify's JSON at all (a proxy's page), nor UTF-8: quote it
		// cleaned and capped.
		msg := errorText(g.Errors)
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		e := &crm.Error{Class: crm.StatusClass(resp.StatusCode), CRM: "shopify", Op: op, Status: resp.StatusCode,
			Message: crm.CleanText(msg, crm.MaxQuoted)}
		if e.Class == crm.Throttled {
			e.RetryAfter = crm.RetryAfter(resp.Header, c.cfg.Now())
		}
		return e
	}
	if decodeErr != nil {
		return fail(crm.Retryable, resp.StatusCode, "decode answer: "+decodeErr.Error(), decodeErr)
	}
	if len(g.Errors) > 0 && string(g.Errors) != "null" {
		var errs []gqlError
		_ = json.Unmarshal(g.Errors, &errs)
		for _, e := range errs {
			switch e.Extensions.Code {
			case "THROTTLED":
				return &crm.Error{Class: crm.Throttled, CRM: "shopify", Op: op, Status: resp.StatusCode,
					Message: crm.CleanText(e.Message, crm.MaxQuoted), RetryAfter: throttleWait(g.Extensions.Cost)}
			case "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE":
				return fail(crm.Retryable, resp.StatusCode, e.Message, nil)
			}
		}
		// A query the schema refuses, access denied to a field: sending it again fails again.
		return fail(crm.Permanent, resp.StatusCode, errorText(g.Errors), nil)
	}
	if out != nil {
		if err := json.Unmarshal(g.Data, out); err != nil {
			return fail(crm.Retryable, resp.StatusCode, "decode data: "+err.Error(), err)
		}
	}
	return nil
}

// send posts one GraphQL request with token, taking a rate-limit token first (every
// request counts, the resend after a 401 too), and reads the answer. Each request has its
// own Timeout. The error is a *crm.Error: no answer, a redirect, an unreadable body.
func (p *Provider) send(ctx context.Context, op, token string, body []byte) (*http.Response, []byte, error) {
	c := p.c
	fail := func(class crm.Class, status int, msg string, err error) error {
		return &crm.Error{Class: class, CRM: "shopify", Op: op, Status: status, Message: crm.CleanText(msg, crm.MaxQuoted), Err: err}
	}
	if err := c.cfg.Limiter.Take(ctx, p.clientID); err != nil {
		return nil, nil, fail(crm.Retryable, 0, "waiting for the rate limit: "+err.Error(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint(p.shop), bytes.NewReader(body))
	if err != nil {
		return nil, nil, fail(crm.Permanent, 0, err.Error(), err)
	}
	req.Header.Set("X-Shopify-Access-Token", token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, fail(crm.Retryable, 0, err.Error(), err)
	}
	defer resp.Body.Close()
	c.reportDeprecated(p.shop, op, resp.Header)
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return nil, nil, crm.RedirectError("shopify", op, resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, nil, fail(crm.Retryable, resp.StatusCode, "read answer: "+err.Error(), err)
	}
	return resp, raw, nil
}

// throttleWait is how long until the bucket can pay for the refused query.
func throttleWait(cost *costStatus) time.Duration {
	if cost == nil || cost.ThrottleStatus.RestoreRate <= 0 {
		return crm.DefaultRetryAfter
	}
	missing := cost.RequestedQueryCost - cost.ThrottleStatus.CurrentlyAvailable
	return max(time.Duration(missing/cost.ThrottleStatus.RestoreRate*float64(time.Second)), time.Second)
}

// errorText renders GraphQL errors, an array of {message} or a plain string.
func errorText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var errs []gqlError
	if json.Unmarshal(raw, &errs) != nil {
		return string(raw)
	}
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	return strings.Join(msgs, "; ")
}

// userError is a mutation's userErrors item.
type userError struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
}

func userErrorsText(errs []userError) string {
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		if len(e.Field) > 0 {
			msgs = append(msgs, strings.Join(e.Field, ".")+": "+e.Message)
		} else {
			msgs = append(msgs, e.Message)
		}
	}
	return strings.Join(msgs, "; ")
}
