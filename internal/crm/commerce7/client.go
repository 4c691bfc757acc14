// Package commerce7 is the Commerce7 Provider: a REST client (HTTP Basic with the app id
// and secret, a tenant header per winery) and the idempotent membership operations built
// on it. Each tier is its own Commerce7 club.
package commerce7

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/outbound"
)

// DefaultURL is Commerce7's API base.
const DefaultURL = "https://api.commerce7.com/v1"

// Config is shared by every Commerce7 client of the process.
type Config struct {
	BaseURL string // COMMERCE7_API_URL
	AppID   string // COMMERCE7_APP_ID: the Basic auth user
	Key     string // COMMERCE7_KEY: the Basic auth password
	// Timeout bounds each HTTP request. It must be shorter than the queue's lease, so a
	// hung call ends (and is retried) before another worker could take the row over.
	Timeout time.Duration
	Limiter crm.Limiter
	// HTTP is the transport; nil: a client of its own with Timeout. Either way the client
	// used is a copy that refuses redirects (outbound.NoRedirects).
	HTTP *http.Client
	Now  func() time.Time
}

// Client talks to Commerce7 for every tenant.
type Client struct {
	cfg  Config
	http *http.Client
	base string
}

// New makes a client; Provider gives a tenant's view of it.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultURL
	}
	if _, err := url.ParseRequestURI(cfg.BaseURL); err != nil {
		return nil, fmt.Errorf("commerce7: base URL %q: %w", cfg.BaseURL, err)
	}
	if cfg.AppID == "" || cfg.Key == "" {
		return nil, errors.New("commerce7: COMMERCE7_APP_ID and COMMERCE7_KEY are required")
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
	// Never follow a redirect, not even with a client passed in Config.HTTP: it would
	// send the Basic credentials wherever the answer points.
	hc := outbound.NoRedirects(cfg.HTTP, cfg.Timeout)
	return &Client{cfg: cfg, http: hc, base: strings.TrimRight(cfg.BaseURL, "/")}, nil
}

// Provider is the client bound to one winery: its tenant, and its id for the shared
// rate limit.
func (c *Client) Provider(clientID, tenant string) *Provider {
	return &Provider{c: c, clientID: clientID, tenant: tenant}
}

// Customer reads one customer of the tenant (Provider.Customer). With it a *Client is a
// membership.CustomerSource: an order webhook naming a customer without its email asks
// Commerce7 for it. A nil *Client (no credentials configured) answers an error.
func (c *Client) Customer(ctx context.Context, clientID, tenant, customerID string) (crm.Customer, error) {
	if c == nil {
		return crm.Customer{}, errors.New("commerce7: no client configured (COMMERCE7_APP_ID, COMMERCE7_KEY)")
	}
	return c.Provider(clientID, tenant).Customer(ctx, customerID)
}

// apiError is Commerce7's error body.
type apiError struct {
	StatusCode int    `json:"statusCode"`
	Type       string `json:"type"`
	Message    string `json:"message"`
	Errors     []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (a *apiError) text() string {
	msg := a.Message
	var details []string
	for _, e := range a.Errors {
		switch {
		case e.Field != "" && e.Message != "":
			details = append(details, e.Field+": "+e.Message)
		case e.Message != "":
			details = append(details, e.Message)
		}
	}
	if len(details) > 0 {
		if msg != "" {
			msg += " "
		}
		msg += "(" + strings.Join(details, "; ") + ")"
	}
	return msg
}

// do sends one request for tenant (after taking a rate-limit token) and decodes a
// successful answer into out.
func (p *Provider) do(ctx context.Context, op, method, path string, query url.Values, body, out any) error {
	// Every message is cleaned (crm.CleanText) before it becomes an error: it may quote
	// the CRM's answer, and it ends up in error_message.
	fail := func(class crm.Class, status int, msg string, err error) error {
		return &crm.Error{Class: class, CRM: "commerce7", Op: op, Status: status, Message: crm.CleanText(msg, crm.MaxQuoted), Err: err}
	}
	if err := p.c.cfg.Limiter.Take(ctx, p.clientID); err != nil {
		return fail(crm.Retryable, 0, "waiting for the rate limit: "+err.Error(), err)
	}
	u := p.c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fail(crm.Permanent, 0, "encode request: "+err.Error(), err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, p.c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fail(crm.Permanent, 0, err.Error(), err)
	}
	req.SetBasicAuth(p.c.cfg.AppID, p.c.cfg.Key)
	req.Header.Set("tenant", p.tenant)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.c.http.Do(req)
	if err != nil {
		// Timeouts, refused connections, a connection dropped mid-answer: the request may
		// or may not have been applied; the operations read state first, so a retry is safe.
		return fail(crm.Retryable, 0, err.Error(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return crm.RedirectError("commerce7", op, resp)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fail(crm.Retryable, resp.StatusCode, "read answer: "+err.Error(), err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body may not be Commerce7's JSON at all (a proxy's page), nor UTF-8: quote
		// it cleaned and capped.
		var a apiError
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &a) == nil && a.text() != "" {
			msg = a.text()
		}
		e := &crm.Error{Class: crm.StatusClass(resp.StatusCode), CRM: "commerce7", Op: op, Status: resp.StatusCode,
			Message: crm.CleanText(msg, crm.MaxQuoted)}
		if e.Class == crm.Throttled {
			e.RetryAfter = crm.RetryAfter(resp.Header, p.c.cfg.Now())
		}
		return e
	}
	// Commerce7 sometimes reports a failure in a 200 with a non-empty errors array.
	var a apiError
	if json.Unmarshal(raw, &a) == nil && len(a.Errors) > 0 {
		return fail(crm.Permanent, resp.StatusCode, a.text(), nil)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fail(crm.Retryable, resp.StatusCode, "decode answer: "+err.Error(), err)
		}
	}
	return nil
}
