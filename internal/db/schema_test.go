package db_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// fixture is one valid row of each parent table, for the bad rows to point at.
type fixture struct {
	client, otherClient, tier, otherTier, customer, enrollment string
}

func seed(t *testing.T, pool *pgxpool.Pool) fixture {
	t.Helper()
	ctx := context.Background()
	var f fixture
	mustScan(t, pool.QueryRow(ctx, `INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute)
		VALUES ('Winery', 'commerce7', 'winery', 100) RETURNING id`), &f.client)
	mustScan(t, pool.QueryRow(ctx, `INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute)
		VALUES ('Other', 'commerce7', 'other', 100) RETURNING id`), &f.otherClient)
	mustScan(t, pool.QueryRow(ctx, `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		VALUES ($1, 'commerce7', 'Gold', 1, 12, 'club-gold', 'Ship') RETURNING id`, f.client), &f.tier)
	mustScan(t, pool.QueryRow(ctx, `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		VALUES ($1, 'commerce7', 'Gold', 1, 12, 'club-gold', 'Ship') RETURNING id`, f.otherClient), &f.otherTier)
	mustScan(t, pool.QueryRow(ctx, `INSERT INTO customers (client_id, email) VALUES ($1, 'a@example.com') RETURNING id`,
		f.client), &f.customer)
	mustScan(t, pool.QueryRow(ctx, `INSERT INTO enrollments (client_id, customer_id, tier_id, expires_at, source)
		VALUES ($1, $2, $3, now() + interval '1 year', 'api') RETURNING id`, f.client, f.customer, f.tier), &f.enrollment)
	return f
}

func mustScan(t *testing.T, row interface{ Scan(...any) error }, dst ...any) {
	t.Helper()
	if err := row.Scan(dst...); err != nil {
		t.Fatal(err)
	}
}

// TestDatabaseRefusesBadRows proves the constraints live in the database: each statement
// is valid SQL that the Go code would never send, and PostgreSQL must refuse it.
func TestDatabaseRefusesBadRows(t *testing.T) {
	pool := dbtest.New(t)
	f := seed(t, pool)
	const missing = "00000000-0000-0000-0000-000000000000"
	cases := []struct {
		name, sql string
		args      []any
		code      string // SQLSTATE: 23514 check, 23505 unique, 23503 foreign key, 23502 not null
	}{
		{"bad crm_type", `INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute) VALUES ('x', 'salesforce', 't2', 100)`, nil, "23514"},
		{"a shopify connection for a commerce7 client", `INSERT INTO shopify_connections (client_id, shop, auth, access_token_enc) VALUES ($1, 'x.myshopify.com', 'token', '\x00')`, []any{f.client}, "23503"},
		{"a static-token connection without its token", `INSERT INTO shopify_connections (client_id, crm_type, shop, auth) VALUES ($1, 'commerce7', 'x.myshopify.com', 'token')`, []any{f.client}, "23514"},
		{"duplicate tenant (case)", `INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute) VALUES ('x', 'commerce7', 'WINERY', 100)`, nil, "23505"},
		{"zero rate limit", `INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute) VALUES ('x', 'commerce7', 't3', 0)`, nil, "23514"},
		{"bad delivery method", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method) VALUES ($1, 'commerce7', 'S', 2, 12, 'c2', 'Drone')`, []any{f.client}, "23514"},
		{"shopify tag on commerce7 tier", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, shopify_tag) VALUES ($1, 'commerce7', 'S', 2, 12, 'silver')`, []any{f.client}, "23514"},
		{"tier crm_type unlike client's", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, shopify_tag) VALUES ($1, 'shopify', 'S', 2, 12, 'silver')`, []any{f.client}, "23503"},
		{"duplicate rank", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method) VALUES ($1, 'commerce7', 'S', 1, 12, 'c2', 'Ship')`, []any{f.client}, "23505"},
		{"zero duration", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method) VALUES ($1, 'commerce7', 'S', 2, 0, 'c2', 'Ship')`, []any{f.client}, "23514"},
		{"negative amount", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, min_purchase_cents, c7_club_id, c7_delivery_method) VALUES ($1, 'commerce7', 'S', 2, 12, -1, 'c2', 'Ship')`, []any{f.client}, "23514"},
		{"tier of unknown client", `INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method) VALUES ($1, 'commerce7', 'S', 2, 12, 'c2', 'Ship')`, []any{missing}, "23503"},
		{"duplicate email (case)", `INSERT INTO customers (client_id, email) VALUES ($1, 'A@Example.com')`, []any{f.client}, "23505"},
		{"bad email", `INSERT INTO customers (client_id, email) VALUES ($1, 'not-an-email')`, []any{f.client}, "23514"},
		{"member without tier", `INSERT INTO customers (client_id, email, is_club_member) VALUES ($1, 'b@example.com', true)`, []any{f.client}, "23514"},
		{"current tier of another client", `INSERT INTO customers (client_id, email, is_club_member, current_tier_id) VALUES ($1, 'b@example.com', true, $2)`, []any{f.client, f.otherTier}, "23503"},
		{"second active enrollment", `INSERT INTO enrollments (client_id, customer_id, tier_id, expires_at, source) VALUES ($1, $2, $3, now() + interval '1 year', 'api')`, []any{f.client, f.customer, f.tier}, "23505"},
		{"bad enrollment status", `INSERT INTO enrollments (client_id, customer_id, tier_id, status, expires_at, ended_at, source) VALUES ($1, $2, $3, 'paused', now() + interval '1 year', now(), 'api')`, []any{f.client, f.customer, f.tier}, "23514"},
		{"bad enrollment source", `INSERT INTO enrollments (client_id, customer_id, tier_id, status, expires_at, ended_at, source) VALUES ($1, $2, $3, 'expired', now() + interval '1 year', now(), 'fax')`, []any{f.client, f.customer, f.tier}, "23514"},
		{"enrollment in another client's tier", `INSERT INTO enrollments (client_id, customer_id, tier_id, status, expires_at, ended_at, source) VALUES ($1, $2, $3, 'expired', now() + interval '1 year', now(), 'api')`, []any{f.client, f.customer, f.otherTier}, "23503"},
		{"enrollment of unknown customer", `INSERT INTO enrollments (client_id, customer_id, tier_id, expires_at, source) VALUES ($1, $2, $3, now() + interval '1 year', 'api')`, []any{f.client, missing, f.tier}, "23503"},
		{"expiry before start", `INSERT INTO enrollments (client_id, customer_id, tier_id, status, enrolled_at, expires_at, ended_at, source) VALUES ($1, $2, $3, 'expired', now(), now() - interval '1 day', now(), 'api')`, []any{f.client, f.customer, f.tier}, "23514"},
		{"bad queue status", `INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, status) VALUES ($1, $2, 'add_membership', $3, 'done')`, []any{f.client, f.customer, f.tier}, "23514"},
		{"bad action type", `INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id) VALUES ($1, $2, 'add_customer', $3)`, []any{f.client, f.customer, f.tier}, "23514"},
		{"upgrade without old tier", `INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id) VALUES ($1, $2, 'upgrade_membership', $3)`, []any{f.client, f.customer, f.tier}, "23514"},
		{"processing without lock", `INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, status) VALUES ($1, $2, 'add_membership', $3, 'processing')`, []any{f.client, f.customer, f.tier}, "23514"},
		{"queue row of unknown enrollment", `INSERT INTO crm_sync_queue (client_id, customer_id, enrollment_id, action_type, tier_id) VALUES ($1, $2, $4, 'add_membership', $3)`, []any{f.client, f.customer, f.tier, missing}, "23503"},
		{"queue row of another client's customer", `INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id) VALUES ($1, $2, 'add_membership', $3)`, []any{f.otherClient, f.customer, f.otherTier}, "23503"},
		{"negative attempts", `INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, attempts) VALUES ($1, $2, 'add_membership', $3, -1)`, []any{f.client, f.customer, f.tier}, "23514"},
		{"attempt of unknown row", `INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome) VALUES (999999, 1, 'w', now(), now(), 'succeeded')`, nil, "23503"},
		{"bad job name", `INSERT INTO job_runs (job_name, trigger, scheduled_for) VALUES ('mine-bitcoin', 'manual', now())`, nil, "23514"},
		{"bad job status", `INSERT INTO job_runs (job_name, trigger, scheduled_for, status, finished_at) VALUES ('process-crm-sync-queue', 'manual', now(), 'crashed', now())`, nil, "23514"},
		{"bad webhook provider", `INSERT INTO webhook_events (client_id, provider, external_id, topic, payload) VALUES ($1, 'square', 'e1', 'orders/paid', '{}')`, []any{f.client}, "23514"},
		{"bad event", `INSERT INTO enrollment_events (enrollment_id, event, cause) VALUES ($1, 'paused', 'api')`, []any{f.enrollment}, "23514"},
		{"event of unknown enrollment", `INSERT INTO enrollment_events (enrollment_id, event, cause) VALUES ($1, 'enrolled', 'api')`, []any{missing}, "23503"},
		{"order of another client's customer", `INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents) VALUES ($1, 'o1', $2, 100)`, []any{f.otherClient, f.customer}, "23503"},
		{"negative order total", `INSERT INTO orders (client_id, crm_order_id, customer_id, total_cents) VALUES ($1, 'o1', $2, -5)`, []any{f.client, f.customer}, "23514"},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, c.sql, c.args...)
			var pgErr *pgconn.PgError
			if err == nil {
				t.Fatal("the database accepted the row")
			}
			if !errors.As(err, &pgErr) || pgErr.Code != c.code {
				t.Fatalf("err = %v, want SQLSTATE %s", err, c.code)
			}
		})
	}

	// And the good rows the fixture made are really there: the refusals above were not
	// an artefact of a broken setup.
	var n int
	mustScan(t, pool.QueryRow(ctx, `SELECT count(*) FROM enrollments WHERE status = 'active'`), &n)
	if n != 1 {
		t.Fatalf("active enrollments = %d, want 1", n)
	}
	// After the first enrollment ends, the customer may enroll again.
	if _, err := pool.Exec(ctx, `UPDATE enrollments SET status = 'expired', ended_at = now() WHERE id = $1`, f.enrollment); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO enrollments (client_id, customer_id, tier_id, expires_at, source)
		VALUES ($1, $2, $3, now() + interval '1 year', 'api')`, f.client, f.customer, f.tier); err != nil {
		t.Fatalf("a new active enrollment after the old one expired was refused: %v", err)
	}
}

// TestSeedMonitoringQueries runs the seeds' monitoring SQL exactly as docs/operations.md
// prints it: the column names must not drift.
func TestSeedMonitoringQueries(t *testing.T) {
	pool := dbtest.New(t)
	f := seed(t, pool)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO crm_sync_queue (client_id, customer_id, enrollment_id, action_type, tier_id, status, error_message)
		VALUES ($1, $2, $3, 'add_membership', $4, 'failed', 'boom'), ($1, $2, $3, 'cancel_membership', $4, 'pending', NULL)`,
		f.client, f.customer, f.enrollment, f.tier); err != nil {
		t.Fatal(err)
	}
	queries := monitoringQueries(t)
	if len(queries) < 4 {
		t.Fatalf("found %d queries in docs/operations.md, want at least 4", len(queries))
	}
	for _, q := range queries {
		rows, err := pool.Query(ctx, q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		if n == 0 {
			t.Errorf("no rows from\n%s", q)
		}
	}
}

func TestMigrateDownAndUpAgain(t *testing.T) {
	url := dbtest.NewURL(t)
	ctx := context.Background()
	m, err := db.NewMigrator(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := db.CheckReady(ctx, pool); err != nil {
		t.Fatalf("migrated database not ready: %v", err)
	}
	if _, err := m.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var tables int
	mustScan(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`), &tables)
	if tables != 0 {
		t.Fatalf("%d tables left after down to 0", tables)
	}
	if err := db.CheckReady(ctx, pool); err == nil {
		t.Fatal("CheckReady passed on an unmigrated database")
	}
	n, err := m.Up(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("up applied nothing after down to 0")
	}
	if err := db.CheckReady(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if v, err := db.SchemaVersion(ctx, pool); err != nil || v != db.LatestVersion() {
		t.Fatalf("version %d (%v), want %d", v, err, db.LatestVersion())
	}
}

// monitoringQueries returns the SQL blocks of the "Monitoring queries" section of
// docs/operations.md.
func monitoringQueries(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "## Monitoring queries")
	if start < 0 {
		t.Fatal(`docs/operations.md has no "## Monitoring queries" section`)
	}
	section := text[start+3:]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(section, -1) {
		out = append(out, m[1])
	}
	return out
}
