package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/app"
	"tiersync/internal/cli"
	"tiersync/internal/config"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/db"
)

func runDemo(ctx context.Context, e env, args []string) (err error) {
	fs := newFlagSet(e, "demo", "demo [--size small|normal] [--speed fast|normal] [--keep] [flags]\n\n"+
		"Starts a private PostgreSQL (or a new database on DATABASE_URL's server), migrates it, starts fake\n"+
		"Commerce7 and Shopify servers and tiersync itself (API, workers, scheduler, admin page), then plays a\n"+
		"story you can watch on the admin page: two wineries with three tiers each and their customers,\n"+
		"enrollments through the API, orders through the webhooks during a CRM outage and the backlog\n"+
		"draining after it, imported members expiring. It prints a summary and keeps serving until Ctrl-C,\n"+
		"which stops everything and removes the database unless --keep.")
	keep := fs.Bool("keep", false, "keep the database (and the private PostgreSQL running) after Ctrl-C")
	sizeName := fs.String("size", "normal", "small (40 customers, 10 enrollments, 6 orders, 4 expiries) or normal (200, 50, 30, 20)")
	speedName := fs.String("speed", "normal", "fast (a 2 s outage, 200 ms backoff base) or normal (a 60 s outage, 5 s backoff base)")
	load := config.Bind(fs, e.Getenv, config.Database, config.Server)
	if err := cli.Parse(e, fs, args); err != nil {
		return err
	}
	size, ok := storySizes()[*sizeName]
	if !ok {
		return fmt.Errorf("--size must be small or normal, got %q", *sizeName)
	}
	speed, ok := storySpeeds()[*speedName]
	if !ok {
		return fmt.Errorf("--speed must be fast or normal, got %q", *speedName)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if e.Getenv("LOG_LEVEL") == "" {
		cfg.LogLevel = "warn" // the story speaks on stdout; request logs would drown it
	}
	log := cli.Logger(e.Stderr, cfg)

	dbURL, cleanup, stopHint, err := scratchDatabase(ctx, e, cfg.DatabaseURL, "tiersync_demo")
	if err != nil {
		return err
	}
	defer func() {
		if *keep {
			// What --keep left behind, and how to remove it: the private PostgreSQL outlives
			// this process, and nothing else would say where it is.
			fmt.Fprintf(e.Stdout, "database kept: %s\n%s\n", redactURL(dbURL), stopHint)
			return
		}
		cleanup()
	}()
	cfg.DatabaseURL = dbURL
	if cfg.APIToken == "" {
		cfg.APIToken = randomHex(24)
	}
	if cfg.SecretKey == nil {
		cfg.SecretKey = make([]byte, 32)
		_, _ = rand.Read(cfg.SecretKey)
	}
	// The demo serves plain HTTP on localhost: a Secure cookie would not be sent back there
	// by every browser (COOKIE_SECURE=true still wins when set explicitly).
	if e.Getenv("COOKIE_SECURE") == "" {
		cfg.CookieSecure = false
	}

	// The CRM fakes, on a port of their own, as `tiersync-dev fakecrm` serves them.
	c7 := c7test.New(c7test.Options{AppID: demoC7AppID, AppSecret: demoC7Key, RateLimit: 6000})
	shop := shopifytest.New(shopifytest.Options{Shops: map[string]string{demoShop: demoShopToken}})
	defer c7.Close()
	defer shop.Close()
	fakeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for the CRM fakes: %w", err)
	}
	fakeMux := http.NewServeMux()
	fakeMux.Handle("/v1/", c7.Handler())
	fakeMux.Handle("/_fake/commerce7/", c7.Handler())
	fakeMux.Handle("/admin/api/", shop.Handler())
	fakeMux.Handle("/_fake/shopify/", shop.Handler())
	fakeSrv := &http.Server{Handler: fakeMux, ReadHeaderTimeout: 10 * time.Second}
	go fakeSrv.Serve(fakeLn) //nolint:errcheck // closed below
	defer fakeSrv.Close()
	fakeURL := "http://" + fakeLn.Addr().String()
	cfg.Commerce7APIURL, cfg.Commerce7AppID, cfg.Commerce7Key = fakeURL+"/v1", demoC7AppID, demoC7Key
	cfg.Commerce7EchoUser = demoC7AppID
	cfg.ShopifyAPIURL = fakeURL
	cfg.Commerce7WebhookUser, cfg.Commerce7WebhookPassword = demoHookUser, demoHookPassword
	cfg.BackoffBase, cfg.PollInterval = speed.backoffBase, speed.poll
	if err := cfg.CheckServer(); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.ListenAddr, err)
	}
	base := "http://" + ln.Addr().String()
	serveCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	served := make(chan error, 1)
	go func() { served <- app.Serve(serveCtx, cfg, log, ln, nil) }()
	fmt.Fprintf(e.Stdout, "tiersync-dev demo is up\n  admin page: %s/admin/   (log in with the token)\n  API:        %s/api/\n"+
		"  token:      %s\n  CRM fakes:  %s/_fake/commerce7/requests, %s/_fake/shopify/requests\n  database:   %s\n"+
		"  try:        curl -H 'Authorization: Bearer %s' %s/api/queue/stats\n",
		base, base, cfg.APIToken, fakeURL, fakeURL, redactURL(dbURL), cfg.APIToken, base)

	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	st := &story{out: e.Stdout, base: base, token: cfg.APIToken, pool: pool, c7: c7, shop: shop, size: size, speed: speed,
		http: &http.Client{Timeout: 30 * time.Second}}
	if err := waitReady(ctx, st.http, base); err != nil {
		return err
	}
	if err := st.run(ctx); err != nil {
		if ctx.Err() != nil {
			return <-served
		}
		return err
	}
	fmt.Fprintf(e.Stdout, "\nThe demo keeps serving at %s/admin/ — Ctrl-C stops it.\n", base)
	return <-served
}

// waitReady waits for the server's /readyz.
func waitReady(ctx context.Context, c *http.Client, base string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if resp, err := c.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server did not become ready in 30 s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// createDatabase creates name on the server at adminURL unless it exists.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to private database: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redactURL hides a URL's password for printing.
func redactURL(u string) string {
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		return "(unparsable DATABASE_URL)"
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}
