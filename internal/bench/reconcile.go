package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
)

// ReconcileResult is the JSON line of `tiersync-dev bench reconcile`.
type ReconcileResult struct {
	Bench   string `json:"bench"`
	CRM     string `json:"crm"`
	Members int    `json:"members"`
	// Requests is what the listing sent the CRM; MinRequests what a listing of this many
	// members needs at the CRM's page size.
	Requests    int `json:"requests"`
	MinRequests int `json:"min_requests"`
	// Limit is the CRM's rate limit as the fake enforces it: requests a minute
	// (Commerce7), points a second with the bucket size (Shopify).
	Limit   string  `json:"limit"`
	Seconds float64 `json:"seconds"`
	// BoundSeconds is the time the CRM's sustained limit allows for MinRequests (Commerce7:
	// MinRequests at 100 a minute; a listing within the CRM's burst beats it), and
	// FractionOfBound BoundSeconds/Seconds: 1 is a listing exactly as fast as the CRM lets it
	// (1 too when the CRM's burst covers the whole listing).
	BoundSeconds    float64 `json:"bound_seconds"`
	FractionOfBound float64 `json:"fraction_of_bound"`
	Differences     int     `json:"differences"`
}

// Reconcile times a reconciliation of members members, all in step, of one client
// against its CRM's fake at the fake's default limits (Commerce7: 100 requests a minute;
// Shopify: a 2 000-point bucket restoring 100 points a second). The client's own rate
// limit is the CRM's (Commerce7) or above it (Shopify, whose limit is in points), so the
// CRM is the bound.
func Reconcile(ctx context.Context, pool *pgxpool.Pool, crmType string, members int) (ReconcileResult, error) {
	if members < 1 {
		return ReconcileResult{}, errors.New("bench reconcile: --members must be at least 1")
	}
	res := ReconcileResult{Bench: "reconcile", CRM: crmType, Members: members}
	var lister crm.Lister
	var requests func() int
	var clientID string
	switch crmType {
	case "commerce7":
		fake := c7test.New(c7test.Options{AppID: "bench", AppSecret: "bench"})
		srv := httptest.NewServer(fake.Handler())
		defer srv.Close()
		defer fake.Close()
		var err error
		if clientID, err = seedClient(ctx, pool, "commerce7", "bench-winery", 100, "club-bench", ""); err != nil {
			return res, err
		}
		ids := make([]string, members)
		for i := range ids {
			ids[i] = fmt.Sprintf("c7-customer-%07d", i)
			fake.AddMembership("bench-winery", c7test.Membership{CustomerID: ids[i], ClubID: "club-bench", OrderDeliveryMethod: "Ship"})
		}
		if err := seedMembers(ctx, pool, clientID, ids); err != nil {
			return res, err
		}
		c, err := commerce7.New(commerce7.Config{BaseURL: srv.URL + "/v1", AppID: "bench", Key: "bench", Limiter: queue.NewLimiter(pool, nil).Low()})
		if err != nil {
			return res, err
		}
		lister = c.Provider(clientID, "bench-winery")
		requests = func() int { return len(fake.Requests()) }
		res.MinRequests = (members + 49) / 50
		res.Limit = "100 requests/min"
		res.BoundSeconds = float64(res.MinRequests) / (100.0 / 60)
	case "shopify":
		const shop, token = "bench-winery.myshopify.com", "shpat_bench"
		fake := shopifytest.New(shopifytest.Options{})
		srv := httptest.NewServer(fake.Handler())
		defer srv.Close()
		defer fake.Close()
		fake.AddShop(shop, token)
		var err error
		if clientID, err = seedClient(ctx, pool, "shopify", shop, 6000, "", "club-bench"); err != nil {
			return res, err
		}
		ids := make([]string, members)
		for i := range ids {
			ids[i] = fake.AddCustomer(shop, shopifytest.Customer{Email: fmt.Sprintf("m%07d@example.com", i), Tags: []string{"club-bench"},
				Metafields: map[string]shopifytest.Metafield{"tiersync.tier": {Value: "Bench"}}}).ID
		}
		if err := seedMembers(ctx, pool, clientID, ids); err != nil {
			return res, err
		}
		c, err := shopify.New(shopify.Config{BaseURL: srv.URL, Limiter: queue.NewLimiter(pool, nil).Low()})
		if err != nil {
			return res, err
		}
		lister = c.Provider(clientID, shop, token)
		requests = func() int { return len(fake.Requests()) }
		// 100 customers a page at 3 points each plus 2 (the listing's requested cost);
		// the first 2 000 points are in the bucket at the start.
		res.MinRequests = (members + 99) / 100
		res.Limit = "100 points/s, bucket 2000"
		points := float64(members*3 + res.MinRequests*2)
		res.BoundSeconds = math.Max(0, points-2000) / 100
	default:
		return res, fmt.Errorf("bench reconcile: --crm %q: want commerce7 or shopify", crmType)
	}
	rec := reconcile.New(reconcile.Config{Pool: pool, Listers: func(context.Context, reconcile.Client) (crm.Lister, error) { return lister, nil }})
	sched, err := schedule.New(pool, schedule.Options{Runner: "bench"},
		schedule.Job{Name: schedule.JobReconcile, Spec: "off", Run: func(context.Context, int64) (any, error) { return nil, nil }})
	if err != nil {
		return res, err
	}
	before := requests()
	start := time.Now()
	run, err := sched.TriggerWith(ctx, schedule.JobReconcile, func(ctx context.Context, id int64) (any, error) {
		return rec.Run(ctx, id, reconcile.Options{ClientID: clientID, DryRun: true})
	})
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	if run.Status != schedule.StatusSucceeded {
		return res, fmt.Errorf("bench reconcile: the run %s: %s", run.Status, deref(run.Error))
	}
	res.Requests = requests() - before
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM reconcile_differences WHERE status <> 'gone'`).Scan(&res.Differences); err != nil {
		return res, err
	}
	res.FractionOfBound = 1 // the CRM's burst covers the whole listing: nothing to wait for
	if res.BoundSeconds > 0 {
		res.FractionOfBound = math.Round(res.BoundSeconds/res.Seconds*1000) / 1000
	}
	res.Seconds = math.Round(res.Seconds*100) / 100
	res.BoundSeconds = math.Round(res.BoundSeconds*100) / 100
	return res, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// seedClient makes the bench's client with one tier mapped to club or tag.
func seedClient(ctx context.Context, pool *pgxpool.Pool, crmType, tenant string, perMinute int, club, tag string) (string, error) {
	var id string
	err := pool.QueryRow(ctx, `INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute) VALUES ('Bench', $1, $2, $3) RETURNING id`,
		crmType, tenant, perMinute).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("bench reconcile: client: %w", err)
	}
	delivery := "Ship"
	var clubArg, deliveryArg, tagArg any = club, delivery, nil
	if crmType == "shopify" {
		clubArg, deliveryArg, tagArg = nil, nil, tag
	}
	if _, err := pool.Exec(ctx, `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method, shopify_tag)
	        VALUES ($1, $2, 'Bench', 1, 12, $3, $4, $5)`, id, crmType, clubArg, deliveryArg, tagArg); err != nil {
		return "", fmt.Errorf("bench reconcile: tier: %w", err)
	}
	return id, nil
}

// seedMembers makes one customer linked to each CRM id, each with an active enrollment
// in the client's tier.
func seedMembers(ctx context.Context, pool *pgxpool.Pool, clientID string, crmIDs []string) error {
	_, err := pool.Exec(ctx, `
WITH c AS (
    INSERT INTO customers (client_id, email, crm_id, is_club_member, current_tier_id)
    SELECT $1, 'member' || n || '@example.com', id, true, (SELECT id FROM tiers WHERE client_id = $1)
    FROM unnest($2::text[]) WITH ORDINALITY AS u(id, n)
    RETURNING id
)
INSERT INTO enrollments (client_id, customer_id, tier_id, expires_at, source)
SELECT $1, c.id, (SELECT id FROM tiers WHERE client_id = $1), now() + interval '1 year', 'api' FROM c`, clientID, crmIDs)
	if err != nil {
		return fmt.Errorf("bench reconcile: members: %w", err)
	}
	// The planner must know the tables hold this many rows, as a real deployment's do.
	_, err = pool.Exec(ctx, `ANALYZE customers, enrollments`)
	return err
}
