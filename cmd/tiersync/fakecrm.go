package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"tiersync/internal/crm/commerce7/c7test"
)

// runFakeCRM serves the CRM fakes over HTTP, for the demo and for outside test suites:
// point COMMERCE7_API_URL at http://ADDR/v1. The fakes' control API (request log, state,
// fault injection) is under /_fake/.
func runFakeCRM(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "fakecrm", "fakecrm [flags]\n\n"+
		"Serves a fake Commerce7 API at http://LISTEN/v1 (and its control API under /_fake/commerce7/)\n"+
		"until Ctrl-C. It keeps its state in memory and enforces auth, tenants and rate limits.")
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on")
	appID := fs.String("c7-app-id", "tiersync-demo", "the Commerce7 app id requests must carry (COMMERCE7_APP_ID)")
	key := fs.String("c7-key", "demo-secret", "the Commerce7 app secret requests must carry (COMMERCE7_KEY)")
	tenants := fs.String("c7-tenants", "", "comma-separated tenants that exist (empty: any)")
	rate := fs.Int("c7-rate-limit", 100, "requests per minute per tenant (negative: unlimited)")
	if err := parse(e, fs, args); err != nil {
		return err
	}
	var ts []string
	for _, t := range strings.Split(*tenants, ",") {
		if t = strings.TrimSpace(t); t != "" {
			ts = append(ts, t)
		}
	}
	c7 := c7test.New(c7test.Options{AppID: *appID, AppSecret: *key, Tenants: ts, RateLimit: *rate})
	defer c7.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv := &http.Server{Handler: c7.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(e.stdout, "fake Commerce7 at http://%s/v1 (app id %q)\n", ln.Addr(), *appID)
	select {
	case err := <-errc:
		return fmt.Errorf("fake CRM server: %w", err)
	case <-ctx.Done():
	}
	c7.Close() // release hanging calls so Shutdown does not wait for them
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
