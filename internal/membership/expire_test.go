package membership_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// expireWorld is a client with two tiers and helpers to make enrollments that ended (or
// end) at a given offset from now.
type expireWorld struct {
	pool               *pgxpool.Pool
	store              *membership.Store
	client, gold, plat string
	n                  int
}

func newExpireWorld(t *testing.T) *expireWorld {
	t.Helper()
	pool := dbtest.New(t)
	w := &expireWorld{pool: pool, store: membership.NewStore(pool, nil)}
	err := pool.QueryRow(context.Background(), `
		WITH c AS (INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute) VALUES ('N', 'commerce7', 'n', 100) RETURNING id),
		     g AS (INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		           SELECT id, 'commerce7', 'Gold', 1, 12, 'g', 'Ship' FROM c RETURNING id),
		     p AS (INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		           SELECT id, 'commerce7', 'Platinum', 2, 12, 'p', 'Ship' FROM c RETURNING id)
		SELECT c.id, g.id, p.id FROM c, g, p`).Scan(&w.client, &w.gold, &w.plat)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// enroll makes a customer with an active enrollment in tier ending at now + ends (an
// SQL interval, negative: already past), flags set as the API sets them.
func (w *expireWorld) enroll(t *testing.T, tier, ends string) (customer, enrollment string) {
	t.Helper()
	w.n++
	err := w.pool.QueryRow(context.Background(), `
		WITH cu AS (INSERT INTO customers (client_id, email, crm_id, is_club_member, current_tier_id)
		            VALUES ($1, $2, $3, true, $4) RETURNING id)
		INSERT INTO enrollments (client_id, customer_id, tier_id, enrolled_at, expires_at, source)
		SELECT $1, cu.id, $4, now() - interval '2 years', now() + $5::interval, 'api' FROM cu
		RETURNING customer_id, id`, w.client, fmt.Sprintf("m%d@example.com", w.n), fmt.Sprintf("crm-%d", w.n), tier, ends).
		Scan(&customer, &enrollment)
	if err != nil {
		t.Fatal(err)
	}
	return customer, enrollment
}

type state struct {
	status  string
	member  bool
	tier    *string
	events  int
	cancels int
	crmID   *string
}

func (w *expireWorld) state(t *testing.T, customer, enrollment string) state {
	t.Helper()
	var s state
	err := w.pool.QueryRow(context.Background(), `
		SELECT e.status, cu.is_club_member, cu.current_tier_id,
		       (SELECT count(*) FROM enrollment_events v WHERE v.enrollment_id = e.id AND v.event = 'expired' AND v.cause = 'expiration'),
		       (SELECT count(*) FROM crm_sync_queue q WHERE q.enrollment_id = e.id AND q.action_type = 'cancel_membership' AND q.priority = -10),
		       (SELECT customer_crm_id FROM crm_sync_queue q WHERE q.enrollment_id = e.id LIMIT 1)
		FROM enrollments e JOIN customers cu ON cu.id = e.customer_id WHERE e.id = $1 AND cu.id = $2`, enrollment, customer).
		Scan(&s.status, &s.member, &s.tier, &s.events, &s.cancels, &s.crmID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestExpire(t *testing.T) {
	w := newExpireWorld(t)
	ctx := context.Background()
	type enrolled struct{ customer, enrollment string }
	var past, future []enrolled
	for i := 0; i < 7; i++ {
		c, e := w.enroll(t, w.gold, fmt.Sprintf("-%d days", i+1))
		past = append(past, enrolled{c, e})
	}
	for i := 0; i < 3; i++ {
		c, e := w.enroll(t, w.gold, "30 days")
		future = append(future, enrolled{c, e})
	}
	// A customer whose flags already point at another tier (set by hand, or by a change
	// this expiry must not undo): the expiry leaves them alone.
	other, otherEnrollment := w.enroll(t, w.gold, "-1 hour")
	if _, err := w.pool.Exec(ctx, `UPDATE customers SET current_tier_id = $2 WHERE id = $1`, other, w.plat); err != nil {
		t.Fatal(err)
	}

	n, due, err := w.store.ExpireDryRun(ctx, 3)
	if err != nil || n != 8 || len(due) != 3 || due[0].EnrollmentID != past[6].enrollment {
		t.Fatalf("dry run: %d %+v %v (want 8, oldest first)", n, due, err)
	}
	if s := w.state(t, past[0].customer, past[0].enrollment); s.status != "active" || s.cancels != 0 {
		t.Fatalf("the dry run changed something: %+v", s)
	}

	res, err := w.store.Expire(ctx, 3, nil) // batches smaller than the backlog
	if err != nil || res != (membership.ExpireResult{Expired: 8, Queued: 8, Batches: 3}) {
		t.Fatalf("expire: %+v %v", res, err)
	}
	for _, x := range past {
		s := w.state(t, x.customer, x.enrollment)
		if s.status != "expired" || s.member || s.tier != nil || s.events != 1 || s.cancels != 1 || s.crmID == nil {
			t.Fatalf("expired enrollment: %+v", s)
		}
	}
	for _, x := range future {
		if s := w.state(t, x.customer, x.enrollment); s.status != "active" || !s.member || s.cancels != 0 {
			t.Fatalf("active enrollment touched: %+v", s)
		}
	}
	if s := w.state(t, other, otherEnrollment); s.status != "expired" || !s.member || s.tier == nil || *s.tier != w.plat {
		t.Fatalf("flags of another tier cleared: %+v", s)
	}
	if res, err := w.store.Expire(ctx, 3, nil); err != nil || res.Expired != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
}

// TestExpireSkipsARenewalInFlight: an enrollment being renewed (its row locked) when the
// batch runs is skipped, and once the renewal commits it is no longer due.
func TestExpireSkipsARenewalInFlight(t *testing.T) {
	w := newExpireWorld(t)
	ctx := context.Background()
	c1, e1 := w.enroll(t, w.gold, "-1 day")
	c2, e2 := w.enroll(t, w.gold, "-1 day")
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `UPDATE enrollments SET expires_at = now() + interval '1 year' WHERE id = $1`, e1); err != nil {
		t.Fatal(err)
	}
	res, err := w.store.Expire(ctx, 10, nil)
	if err != nil || res.Expired != 1 {
		t.Fatalf("with a renewal in flight: %+v %v", res, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if res, err := w.store.Expire(ctx, 10, nil); err != nil || res.Expired != 0 {
		t.Fatalf("after the renewal: %+v %v", res, err)
	}
	if s := w.state(t, c1, e1); s.status != "active" || !s.member || s.cancels != 0 {
		t.Fatalf("renewed enrollment: %+v", s)
	}
	if s := w.state(t, c2, e2); s.status != "expired" {
		t.Fatalf("other enrollment: %+v", s)
	}
}

// TestExpireCoalescesAnAddThatNeverRan: an enrollment whose add_membership never reached
// the CRM expires; the add and the cancel cancel each other out.
func TestExpireCoalescesAnAddThatNeverRan(t *testing.T) {
	w := newExpireWorld(t)
	ctx := context.Background()
	c, e := w.enroll(t, w.gold, "-1 minute")
	var add int64
	if err := w.pool.QueryRow(ctx, `INSERT INTO crm_sync_queue (client_id, customer_id, enrollment_id, action_type, tier_id)
		VALUES ($1, $2, $3, 'add_membership', $4) RETURNING id`, w.client, c, e, w.gold).Scan(&add); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.Expire(ctx, 10, nil); err != nil {
		t.Fatal(err)
	}
	rows, _ := w.pool.Query(ctx, `SELECT action_type || ':' || status FROM crm_sync_queue ORDER BY id`)
	var got []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		got = append(got, s)
	}
	if fmt.Sprint(got) != "[add_membership:cancelled cancel_membership:cancelled]" {
		t.Fatalf("queue %v", got)
	}
}

func TestExpireRefusesABadBatchSize(t *testing.T) {
	w := newExpireWorld(t)
	var expired, queued int
	err := w.pool.QueryRow(context.Background(), `SELECT * FROM process_expired_enrollments(0)`).Scan(&expired, &queued)
	if err == nil {
		t.Fatal("batch size 0 accepted")
	}
}
