package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"tiersync/internal/cli"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify/shopifytest"
)

// runFakeCRM serves the CRM fakes over HTTP, for the demo and for outside test suites:
// point COMMERCE7_API_URL at http://ADDR/v1 and SHOPIFY_API_URL at http://ADDR. The fakes'
// control API (request log, state, fault injection) is under /_fake/.
func runFakeCRM(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "fakecrm", "fakecrm [flags]\n\n"+
		"Serves a fake Commerce7 API at http://LISTEN/v1 and a fake Shopify Admin GraphQL API at\n"+
		"http://LISTEN/admin/api/{version}/graphql.json (control APIs under /_fake/commerce7/ and\n"+
		"/_fake/shopify/) until Ctrl-C. State is in memory; auth, tenants, tokens and rate limits are enforced.")
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	appID := fs.String("c7-app-id", "tiersync-demo", "the Commerce7 app id requests must carry (COMMERCE7_APP_ID)")
	key := fs.String("c7-key", "demo-secret", "the Commerce7 app secret requests must carry (COMMERCE7_KEY)")
	tenants := fs.String("c7-tenants", "", "comma-separated tenants that exist (empty: any)")
	rate := fs.Int("c7-rate-limit", 100, "requests per minute per tenant (negative: unlimited)")
	ignoreFilter := fs.Bool("c7-ignore-customer-filter", false, "list every membership of the tenant whatever GET /club-membership's customerId filter says")
	ignoreClubFilter := fs.Bool("c7-ignore-club-filter", false, "list every membership of the tenant whatever GET /club-membership's clubId filter says")
	requireCard := fs.Bool("c7-require-card", false, "refuse a club membership without a credit card of the customer's own (422)")
	clearMode := fs.String("c7-cancel-date-clear", "removes", `what a PUT with "cancelDate": null does to a scheduled cancellation: removes, ignored or refused`)
	shops := fs.String("shopify-shops", "", "comma-separated shop=token pairs that exist (more can be added over /_fake/shopify/shops)")
	restore := fs.Float64("shopify-restore-rate", 100, "cost points per second each shop's bucket restores (bucket: 20 seconds' worth)")
	tokenTTL := fs.Duration("shopify-token-ttl", 0, "how long an access token from /admin/oauth/access_token lasts (0: Shopify's, 24 h for client credentials, 60 min for expiring offline tokens)")
	latency := fs.Duration("latency", 0, "delay every answer of both fakes by this much (a CRM's own time)")
	httpHooks := fs.Bool("shopify-allow-http-webhooks", false, "let webhookSubscriptionCreate take an http:// address (Shopify demands https)")
	if err := cli.Parse(e, fs, args); err != nil {
		return err
	}
	var ts []string
	for _, t := range strings.Split(*tenants, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	clear, err := c7test.ParseClearMode(*clearMode)
	if err != nil {
		return fmt.Errorf("--c7-cancel-date-clear: %w", err)
	}
	c7 := c7test.New(c7test.Options{AppID: *appID, AppSecret: *key, Tenants: ts, RateLimit: *rate,
		IgnoreCustomerFilter: *ignoreFilter, IgnoreClubFilter: *ignoreClubFilter, RequireCard: *requireCard, CancelDateClear: clear})
	defer c7.Close()
	if *latency < 0 {
		return fmt.Errorf("--latency must not be negative")
	}
	c7.SetLatency(*latency)
	tokens := map[string]string{}
	for _, pair := range strings.Split(*shops, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		shop, token, ok := strings.Cut(pair, "=")
		if !ok || shop == "" || token == "" {
			return fmt.Errorf("--shopify-shops: %q is not shop=token", pair)
		}
		tokens[shop] = token
	}
	if *restore <= 0 {
		return fmt.Errorf("--shopify-restore-rate must be positive")
	}
	if *tokenTTL < 0 {
		return fmt.Errorf("--shopify-token-ttl must not be negative")
	}
	sh := shopifytest.New(shopifytest.Options{Shops: tokens, RestoreRate: *restore, BucketSize: 20 * *restore,
		AccessTokenTTL: *tokenTTL, AllowHTTPWebhooks: *httpHooks})
	defer sh.Close()
	sh.SetLatency(*latency)
	mux := http.NewServeMux()
	mux.Handle("/v1/", c7.Handler())
	mux.Handle("/_fake/commerce7/", c7.Handler())
	mux.Handle("/admin/api/", sh.Handler())
	mux.Handle("/admin/oauth/", sh.Handler())
	mux.Handle("/_fake/shopify/", sh.Handler())
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(e.Stdout, "fake Commerce7 at http://%s/v1 (app id %q)\n", ln.Addr(), *appID)
	fmt.Fprintf(e.Stdout, "fake Shopify at http://%s (SHOPIFY_API_URL), %d shop(s)\n", ln.Addr(), len(tokens))
	select {
	case err := <-errc:
		return fmt.Errorf("fake CRM server: %w", err)
	case <-ctx.Done():
	}
	c7.Close() // release hanging calls so Shutdown does not wait for them
	sh.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("fake CRM shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
