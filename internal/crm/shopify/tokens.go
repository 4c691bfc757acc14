package shopify

import (
	"context"
	"errors"
	"fmt"

	"tiersync/internal/crm"
)

// Tokens is where a Provider gets a shop's access token. Renew is called at most once per
// request, after Shopify answered 401 with the token that was refused; it returns a fresh one.
//
// An implementation that stores rotating tokens (client credentials, expiring offline
// tokens) must be safe for concurrent use: several workers may find the same token
// refused at once, and refused says which token each of them saw, so that only the first
// renews and the others take what it stored.
type Tokens interface {
	Token(ctx context.Context) (string, error)
	Renew(ctx context.Context, refused string) (string, error)
}

// ErrNotRenewable is what Renew answers when the token cannot be renewed (a static
// token): the request then fails with Shopify's own 401, which is permanent.
var ErrNotRenewable = errors.New("shopify: the access token cannot be renewed")

// StaticToken is a Tokens for a permanent token (Renew fails, permanent): a legacy
// custom app's Admin API token, which never expires but can be revoked.
type StaticToken string

// Token is the token itself.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Renew fails with ErrNotRenewable: nothing can make a refused static token work again,
// only an operator pasting a new one.
func (t StaticToken) Renew(context.Context, string) (string, error) { return "", ErrNotRenewable }

// String never shows the token, so that a StaticToken printed by mistake (%v in a log
// line) gives nothing away.
func (t StaticToken) String() string { return "shopify.StaticToken(…)" }

// GoString hides the token from %#v as well.
func (t StaticToken) GoString() string { return t.String() }

// ProviderWith is the client bound to one shop, with the shop's access tokens. clientID
// is tiersync's client (winery) id: the rate-limit key.
func (c *Client) ProviderWith(clientID, shop string, tokens Tokens) *Provider {
	return &Provider{c: c, clientID: clientID, shop: shop, tokens: tokens}
}

// tokenError is what a Tokens failure becomes: a *crm.Error as it is (the Tokens knows
// best, e.g. a refresh token Shopify refused is permanent), anything else retryable (a
// database hiccup while reading the stored token).
func tokenError(op, doing string, err error) error {
	if _, ok := errors.AsType[*crm.Error](err); ok {
		return err
	}
	return &crm.Error{Class: crm.Retryable, CRM: "shopify", Op: op,
		Message: crm.CleanText(fmt.Sprintf("%s: %v", doing, err), crm.MaxQuoted), Err: err}
}
