package shopifyapp

import (
	"slices"
	"strings"
	"testing"
)

// TestValidateRotation: without shopify_auth a rotation takes the current way's fields,
// each optional; with it, everything the new way needs; what a way does not use is refused
// with a message that says what to send instead.
func TestValidateRotation(t *testing.T) {
	t.Parallel()
	p := func(s string) *string { return &s }
	app := App{ClientID: "deployment-app", ClientSecret: "s"}
	cases := []struct {
		name    string
		current string
		in      NewConnection
		app     App
		fields  []string
		msg     string // "" accepted
	}{
		{name: "a new secret alone", current: AuthClientCredentials, in: NewConnection{ClientSecret: p(" new-secret ")},
			fields: []string{"shopify_client_secret"}},
		{name: "a new app id and secret", current: AuthClientCredentials, in: NewConnection{ClientID: p("app"), ClientSecret: p("s")},
			fields: []string{"shopify_client_id", "shopify_client_secret"}},
		{name: "an empty secret", current: AuthClientCredentials, in: NewConnection{ClientSecret: p("  ")},
			msg: "needs shopify_client_id and shopify_client_secret"},
		{name: "a token on client credentials", current: AuthClientCredentials, in: NewConnection{AccessToken: p("shpat")},
			msg: "send shopify_auth to change the way"},
		{name: "a new static token alone", current: AuthToken, in: NewConnection{AccessToken: p("shpat_new")},
			fields: []string{"shopify_access_token"}},
		{name: "a webhook secret alone", current: AuthToken, in: NewConnection{WebhookSecret: p("whsec")},
			fields: []string{"shopify_webhook_secret"}},
		{name: "a client secret on a token", current: AuthToken, in: NewConnection{ClientSecret: p("s")},
			msg: "not used with shopify_auth \"token\""},
		{name: "a secret with a space inside", current: AuthToken, in: NewConnection{AccessToken: p("shpat x")},
			msg: "printable ASCII"},
		{name: "anything on oauth", current: AuthOAuth, in: NewConnection{ClientSecret: p("s")},
			msg: "no credentials to rotate"},
		{name: "to client credentials with both", current: AuthToken,
			in:     NewConnection{Auth: p(AuthClientCredentials), ClientID: p("app"), ClientSecret: p("s")},
			fields: []string{"shopify_auth", "shopify_client_id", "shopify_client_secret"}},
		{name: "to client credentials without its secret", current: AuthToken, in: NewConnection{Auth: p(AuthClientCredentials), ClientID: p("app")},
			msg: "needs shopify_client_id and shopify_client_secret"},
		{name: "to oauth", current: AuthClientCredentials, in: NewConnection{Auth: p(AuthOAuth)}, app: app, fields: []string{"shopify_auth"}},
		{name: "to oauth without the deployment's app", current: AuthClientCredentials, in: NewConnection{Auth: p(AuthOAuth)},
			msg: "SHOPIFY_APP_CLIENT_ID"},
		{name: "an unknown way", current: AuthToken, in: NewConnection{Auth: p("password")}, msg: "is not one of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			fields, err := in.validateRotation(c.current, c.app)
			if c.msg != "" {
				if err == nil || !strings.Contains(err.Error(), c.msg) {
					t.Fatalf("error %v, want one saying %q", err, c.msg)
				}
				return
			}
			if err != nil || !slices.Equal(fields, c.fields) {
				t.Fatalf("fields %v (%v), want %v", fields, err, c.fields)
			}
			if in.ClientSecret != nil && *in.ClientSecret != strings.TrimSpace(*c.in.ClientSecret) {
				t.Fatalf("the secret is not trimmed: %q", *in.ClientSecret)
			}
			if in.Auth == nil && (in.ClientID != nil && *in.ClientID == "kept" || in.AccessToken != nil && *in.AccessToken == "kept") {
				t.Fatalf("a placeholder leaked into the rotation: %+v", in)
			}
		})
	}
}
