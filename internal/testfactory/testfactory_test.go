package testfactory_test

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/secretbox"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestClient(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	type client struct {
		name, crmType, tenant string
		rate, bucket          int
		token                 []byte
	}
	read := func(t *testing.T, id string) client {
		t.Helper()
		var c client
		if err := pool.QueryRow(ctx, `SELECT c.name, c.crm_type, c.tenant, c.rate_limit_per_minute, b.per_minute, s.access_token_enc
			FROM clients c JOIN crm_rate_buckets b ON b.rate_key = c.id::text
			LEFT JOIN shopify_connections s ON s.client_id = c.id WHERE c.id = $1`, id).
			Scan(&c.name, &c.crmType, &c.tenant, &c.rate, &c.bucket, &c.token); err != nil {
			t.Fatal(err)
		}
		return c
	}
	box, err := secretbox.New([]byte(testfactory.SecretKey))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		opts  testfactory.ClientOpts
		check func(t *testing.T, id string, c client)
	}{
		{"defaults", testfactory.ClientOpts{}, func(t *testing.T, id string, c client) {
			if c.name != "Test Winery" || c.crmType != "commerce7" || !strings.HasPrefix(c.tenant, "tenant-") ||
				c.rate != testfactory.DefaultRateLimit || c.bucket != c.rate || c.token != nil {
				t.Fatalf("%+v", c)
			}
		}},
		{"given", testfactory.ClientOpts{Name: "Napa Cellars", Tenant: "napa", RateLimitPerMinute: 60}, func(t *testing.T, id string, c client) {
			if c.name != "Napa Cellars" || c.tenant != "napa" || c.rate != 60 || c.bucket != 60 {
				t.Fatalf("%+v", c)
			}
		}},
		{"shopify", testfactory.ClientOpts{CRMType: "shopify"}, func(t *testing.T, id string, c client) {
			token, err := box.Open(c.token, []byte(id))
			if c.crmType != "shopify" || !strings.HasSuffix(c.tenant, ".myshopify.com") || err != nil || string(token) != testfactory.ShopifyToken {
				t.Fatalf("%+v: token %q (%v)", c, token, err)
			}
		}},
		{"shopify with its token", testfactory.ClientOpts{CRMType: "shopify", ShopifyToken: "shpat_mine"}, func(t *testing.T, id string, c client) {
			if token, err := box.Open(c.token, []byte(id)); err != nil || string(token) != "shpat_mine" {
				t.Fatalf("token %q (%v)", token, err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := testfactory.Client(t, pool, c.opts)
			c.check(t, id, read(t, id))
		})
	}
	t.Run("unique defaults", func(t *testing.T) {
		a, b := testfactory.Client(t, pool, testfactory.ClientOpts{}), testfactory.Client(t, pool, testfactory.ClientOpts{})
		if a == b || read(t, a).tenant == read(t, b).tenant {
			t.Fatalf("two default clients collide: %+v %+v", read(t, a), read(t, b))
		}
	})
	t.Run("SetRateLimit", func(t *testing.T) {
		id := testfactory.Client(t, pool, testfactory.ClientOpts{})
		testfactory.SetRateLimit(t, pool, id, 600)
		if c := read(t, id); c.rate != 600 || c.bucket != 600 {
			t.Fatalf("%+v, want the client and its bucket at 600", c)
		}
	})
}

func TestTier(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	c7 := testfactory.Client(t, pool, testfactory.ClientOpts{})
	shop := testfactory.Client(t, pool, testfactory.ClientOpts{CRMType: "shopify"})
	cases := []struct {
		name   string
		client string
		opts   testfactory.TierOpts
		want   string // name rank months crm_type club delivery location tag, "*" for any text
	}{
		{"commerce7 defaults", c7, testfactory.TierOpts{}, "Tier 1 1 12 commerce7 * Ship - -"},
		{"the next rank", c7, testfactory.TierOpts{Name: "Platinum"}, "Platinum 2 12 commerce7 * Ship - -"},
		{"commerce7 given", c7, testfactory.TierOpts{Name: "Gold", Rank: 5, DurationMonths: 6, C7ClubID: "c1ab0000-0000-4000-8000-000000000001", C7DeliveryMethod: "Pickup"},
			"Gold 5 6 commerce7 c1ab0000-0000-4000-8000-000000000001 Pickup location-* -"},
		{"pickup at a given location", c7, testfactory.TierOpts{C7DeliveryMethod: "Pickup", C7PickupLocationID: "loc-napa"},
			"Tier 6 6 12 commerce7 * Pickup loc-napa -"},
		{"shopify defaults", shop, testfactory.TierOpts{}, "Tier 1 1 12 shopify - - - club-*"},
		{"shopify given", shop, testfactory.TierOpts{Name: "Gold", ShopifyTag: "gold"}, "Gold 2 12 shopify - - - gold"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := testfactory.Tier(t, pool, c.client, c.opts)
			var got string
			if err := pool.QueryRow(ctx, `SELECT concat_ws(' ', name, rank, duration_months, crm_type,
				coalesce(c7_club_id, '-'), coalesce(c7_delivery_method, '-'), coalesce(c7_pickup_location_id, '-'),
				coalesce(shopify_tag, '-'))
				FROM tiers WHERE id = $1 AND client_id = $2`, id, c.client).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !wildcard(c.want, got) {
				t.Fatalf("tier %q, want %q", got, c.want)
			}
		})
	}
}

// wildcard matches got against want word by word, a "*" in want standing for any text.
func wildcard(want, got string) bool {
	w, g := strings.Fields(want), strings.Fields(got)
	if len(w) != len(g) {
		return false
	}
	for i := range w {
		if ok, err := path.Match(w[i], g[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func TestCustomers(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{})
	// One line per customer; booleans print as t and f.
	read := func(t *testing.T, id string) string {
		t.Helper()
		var got string
		if err := pool.QueryRow(ctx, `SELECT concat_ws(' ', email, nullif(first_name, ''), nullif(last_name, ''), phone,
			address->>'city', crm_id, is_club_member, current_tier_id = $2, lifetime_value_cents)
			FROM customers WHERE id = $1 AND client_id = $3`, id, tier, client).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	cases := []struct {
		name string
		opts testfactory.CustomerOpts
		want string
	}{
		{"defaults", testfactory.CustomerOpts{}, "c1-*@example.com f 0"},
		{"given", testfactory.CustomerOpts{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace", Phone: "+1 555",
			Address: map[string]string{"city": "Napa"}, CRMID: "c7-ada", LifetimeValueCents: 1234},
			"ada@example.com Ada Lovelace +1 555 Napa c7-ada f 1234"},
		{"a club member", testfactory.CustomerOpts{CurrentTierID: tier}, "c1-*@example.com t t 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := read(t, testfactory.Customer(t, pool, client, c.opts)); !wildcard(c.want, got) {
				t.Fatalf("customer %q, want %q", got, c.want)
			}
		})
	}
	t.Run("in bulk, in order", func(t *testing.T) {
		ids := testfactory.Customers(t, pool, client, 300)
		if len(ids) != 300 {
			t.Fatalf("%d ids", len(ids))
		}
		for i, id := range []string{ids[0], ids[1], ids[299]} {
			n := []int{1, 2, 300}[i]
			if got := read(t, id); !wildcard(fmt.Sprintf("c%d-*@example.com f 0", n), got) {
				t.Fatalf("customer %d: %q", n, got)
			}
		}
		more := testfactory.Customers(t, pool, client, 300) // a second batch: no collision
		if len(more) != 300 || more[0] == ids[0] {
			t.Fatalf("second batch %d", len(more))
		}
	})
	t.Run("CustomersWith", func(t *testing.T) {
		ids := testfactory.CustomersWith(t, pool, client, []testfactory.CustomerOpts{{Email: "a@example.com"}, {Email: "b@example.com", CRMID: "b"}})
		if got := read(t, ids[0]) + " | " + read(t, ids[1]); got != "a@example.com f 0 | b@example.com b f 0" {
			t.Fatalf("%q", got)
		}
	})
}

func TestEnrollment(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{DurationMonths: 6})
	year := time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)
	type enrollment struct {
		Status      string
		Term        string // age(expires_at, enrolled_at)
		Ended, Now  bool   // ended_at set; enrolled_at is now (this last minute)
		Source      string
		CRMID       *string
		EnrolledDay string
	}
	cases := []struct {
		name string
		opts testfactory.EnrollmentOpts
		want enrollment
	}{
		{"defaults: active for the tier's term from now", testfactory.EnrollmentOpts{},
			enrollment{Status: "active", Term: "6 mons", Now: true, Source: "api"}},
		{"given dates", testfactory.EnrollmentOpts{EnrolledAt: year, ExpiresAt: year.AddDate(1, 0, 0), Source: "order", CRMMembershipID: "m-1"},
			enrollment{Status: "active", Term: "1 year", Source: "order", CRMID: ptr("m-1"), EnrolledDay: "2026-01-31"}},
		{"only the end: one term before it", testfactory.EnrollmentOpts{ExpiresAt: year},
			enrollment{Status: "active", Term: "6 mons", Source: "api", EnrolledDay: "2025-07-31"}},
		{"expired: ended now", testfactory.EnrollmentOpts{Status: "expired"},
			enrollment{Status: "expired", Term: "6 mons", Ended: true, Now: true, Source: "api"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.CustomerID = testfactory.Customer(t, pool, client, testfactory.CustomerOpts{})
			c.opts.TierID = tier
			id := testfactory.Enrollment(t, pool, c.opts)
			var got enrollment
			var day string
			if err := pool.QueryRow(ctx, `SELECT status, age(expires_at, enrolled_at)::text, ended_at IS NOT NULL,
				enrolled_at > now() - interval '1 minute', source, crm_membership_id, to_char(enrolled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')
				FROM enrollments WHERE id = $1 AND client_id = $2 AND customer_id = $3`, id, client, c.opts.CustomerID).
				Scan(&got.Status, &got.Term, &got.Ended, &got.Now, &got.Source, &got.CRMID, &day); err != nil {
				t.Fatal(err)
			}
			if c.want.EnrolledDay != "" {
				got.EnrolledDay = day
			}
			if fmt.Sprint(got.Status, got.Term, got.Ended, got.Now, got.Source, deref(got.CRMID), got.EnrolledDay) !=
				fmt.Sprint(c.want.Status, c.want.Term, c.want.Ended, c.want.Now, c.want.Source, deref(c.want.CRMID), c.want.EnrolledDay) {
				t.Fatalf("enrollment %+v, want %+v", got, c.want)
			}
		})
	}
	t.Run("in bulk", func(t *testing.T) {
		customers := testfactory.Customers(t, pool, client, 50)
		opts := make([]testfactory.EnrollmentOpts, len(customers))
		for i, c := range customers {
			opts[i] = testfactory.EnrollmentOpts{CustomerID: c, TierID: tier}
		}
		ids := testfactory.Enrollments(t, pool, opts)
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT bool_and(e.customer_id = u.customer)
			FROM unnest($1::uuid[], $2::uuid[]) AS u(id, customer) JOIN enrollments e ON e.id = u.id`, ids, customers).Scan(&ok); err != nil || !ok {
			t.Fatalf("enrollments not in the customers' order (%v)", err)
		}
	})
}

func TestQueueRow(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	ctx := context.Background()
	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
	gold := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold"})
	plat := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Platinum"})
	customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{CRMID: "c7-1"})
	enrollment := testfactory.Enrollment(t, pool, testfactory.EnrollmentOpts{CustomerID: customer, TierID: gold})
	old := time.Now().Add(-90 * 24 * time.Hour)
	type row struct {
		Client, Action, Status     string
		Priority, Attempts, Max    int
		Due, Completed, Locked     bool
		Error, RateKey, OrderKey   string
		Enrollment, OldTier, CRMID string
		Old                        bool // created and updated 90 days ago
	}
	base := row{Client: client, Action: "add_membership", Status: "pending", Max: 5, Due: true, RateKey: client, OrderKey: customer}
	with := func(f func(r *row)) row { r := base; f(&r); return r }
	cases := []struct {
		name string
		opts testfactory.QueueRowOpts
		want row
	}{
		{"defaults", testfactory.QueueRowOpts{}, base},
		{"failed after its attempts", testfactory.QueueRowOpts{Status: "failed", Attempts: 5, ErrorMessage: "HTTP 422", CreatedAt: old, UpdatedAt: old},
			with(func(r *row) { r.Status, r.Attempts, r.Error, r.Old = "failed", 5, "HTTP 422", true })},
		{"completed", testfactory.QueueRowOpts{Status: "completed", Attempts: 1},
			with(func(r *row) { r.Status, r.Attempts, r.Completed = "completed", 1, true })},
		{"processing", testfactory.QueueRowOpts{Status: "processing", Attempts: 1},
			with(func(r *row) { r.Status, r.Attempts, r.Locked = "processing", 1, true })},
		{"in backoff", testfactory.QueueRowOpts{NextRetryAt: time.Now().Add(24 * time.Hour), Attempts: 5, MaxAttempts: 5},
			with(func(r *row) { r.Due, r.Attempts = false, 5 })},
		{"an upgrade of an enrollment", testfactory.QueueRowOpts{ActionType: "upgrade_membership", TierID: plat, OldTierID: gold,
			EnrollmentID: enrollment, CustomerCRMID: "c7-1", Priority: 10},
			with(func(r *row) {
				r.Action, r.OldTier, r.Enrollment, r.CRMID, r.Priority = "upgrade_membership", gold, enrollment, "c7-1", 10
			})},
		{"keys given", testfactory.QueueRowOpts{RateKey: "shared", OrderKey: "household"},
			with(func(r *row) { r.RateKey, r.OrderKey = "shared", "household" })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.opts.CustomerID = customer
			if c.opts.TierID == "" {
				c.opts.TierID = gold
			}
			// In a transaction, as a test may: the factory takes a pool or a transaction.
			var id int64
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				id = testfactory.QueueRow(t, tx, c.opts)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var got row
			if err := pool.QueryRow(ctx, `SELECT client_id, action_type, status, priority, attempts, max_attempts,
				next_retry_at <= now(), completed_at IS NOT NULL, coalesce(locked_by = 'testfactory' AND locked_until > now(), false),
				coalesce(error_message, ''), rate_key, order_key, coalesce(enrollment_id::text, ''),
				coalesce(old_tier_id::text, ''), coalesce(customer_crm_id, ''),
				created_at < now() - interval '89 days' AND updated_at = created_at
				FROM crm_sync_queue WHERE id = $1 AND customer_id = $2`, id, customer).
				Scan(&got.Client, &got.Action, &got.Status, &got.Priority, &got.Attempts, &got.Max, &got.Due, &got.Completed,
					&got.Locked, &got.Error, &got.RateKey, &got.OrderKey, &got.Enrollment, &got.OldTier, &got.CRMID, &got.Old); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Fatalf("row %+v\nwant %+v", got, c.want)
			}
		})
	}
	t.Run("in bulk, in order", func(t *testing.T) {
		customers := testfactory.Customers(t, pool, client, 200)
		opts := make([]testfactory.QueueRowOpts, len(customers))
		for i, c := range customers {
			opts[i] = testfactory.QueueRowOpts{CustomerID: c, TierID: gold, Priority: i % 3}
		}
		ids := testfactory.QueueRows(t, pool, opts)
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT bool_and(q.customer_id = u.customer AND q.priority = (u.n - 1) % 3)
			FROM unnest($1::bigint[], $2::uuid[]) WITH ORDINALITY AS u(id, customer, n) JOIN crm_sync_queue q ON q.id = u.id`,
			ids, customers).Scan(&ok); err != nil || !ok {
			t.Fatalf("rows not in the given order (%v)", err)
		}
		for i := 1; i < len(ids); i++ {
			if ids[i] <= ids[i-1] {
				t.Fatalf("ids not increasing: %v", ids[i-1:i+1])
			}
		}
	})
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestQueueBacklog(t *testing.T) {
	t.Parallel()
	pool := dbtest.New(t)
	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{})
	customers := testfactory.Customers(t, pool, client, 3)
	if n := testfactory.QueueBacklog(t, pool, customers, tier, "cancel_membership", -10, 2); n != 6 {
		t.Fatalf("inserted %d rows, want 6", n)
	}
	rows, err := pool.Query(context.Background(), `SELECT customer_id::text, action_type, priority, status, rate_key = client_id::text AND order_key = customer_id::text
		FROM crm_sync_queue ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var customer, action, status string
		var priority int
		var keyed bool
		if err := rows.Scan(&customer, &action, &priority, &status, &keyed); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %d %s %v", slices.Index(customers, customer), action, priority, status, keyed))
	}
	want := "[0 cancel_membership -10 pending true 1 cancel_membership -10 pending true 2 cancel_membership -10 pending true " +
		"0 cancel_membership -10 pending true 1 cancel_membership -10 pending true 2 cancel_membership -10 pending true]"
	if fmt.Sprint(got) != want {
		t.Fatalf("rows %v\nwant %s", got, want)
	}
}
