package membership_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/testfactory"
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
	w.client = testfactory.Client(t, pool, testfactory.ClientOpts{Name: "N", RateLimitPerMinute: 100})
	w.gold = testfactory.Tier(t, pool, w.client, testfactory.TierOpts{Name: "Gold", Rank: 1})
	w.plat = testfactory.Tier(t, pool, w.client, testfactory.TierOpts{Name: "Platinum", Rank: 2})
	return w
}

// enroll makes a customer with an active enrollment in tier ending at now + ends
// (negative: already past), flags set as the API sets them.
func (w *expireWorld) enroll(t *testing.T, tier string, ends time.Duration) (customer, enrollment string) {
	t.Helper()
	w.n++
	customer = testfactory.Customer(t, w.pool, w.client, testfactory.CustomerOpts{
		Email: fmt.Sprintf("m%d@example.com", w.n), CRMID: fmt.Sprintf("crm-%d", w.n), CurrentTierID: tier})
	now := time.Now()
	enrollment = testfactory.Enrollment(t, w.pool, testfactory.EnrollmentOpts{CustomerID: customer, TierID: tier,
		EnrolledAt: now.AddDate(-2, 0, 0), ExpiresAt: now.Add(ends)})
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
	t.Parallel()
	w := newExpireWorld(t)
	ctx := context.Background()
	type enrolled struct{ customer, enrollment string }
	var past, future []enrolled
	for i := 0; i < 7; i++ {
		c, e := w.enroll(t, w.gold, -time.Duration(i+1)*24*time.Hour)
		past = append(past, enrolled{c, e})
	}
	for i := 0; i < 3; i++ {
		c, e := w.enroll(t, w.gold, 30*24*time.Hour)
		future = append(future, enrolled{c, e})
	}
	// A customer whose flags already point at another tier (set by hand, or by a change
	// this expiry must not undo): the expiry leaves them alone.
	other, otherEnrollment := w.enroll(t, w.gold, -time.Hour)
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

	// Batches smaller than the backlog. ExpireParallel batches run at once, each skipping
	// the rows another holds, so how the 8 split is up to the scheduler: at least 3
	// batches of at most 3, and never more than one per enrollment (a CI run once saw 4).
	res, err := w.store.Expire(ctx, 3, nil)
	if err != nil || res.Expired != 8 || res.Queued != 8 || res.Batches < 3 || res.Batches > 8 {
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
	t.Parallel()
	w := newExpireWorld(t)
	ctx := context.Background()
	c1, e1 := w.enroll(t, w.gold, -24*time.Hour)
	c2, e2 := w.enroll(t, w.gold, -24*time.Hour)
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
	t.Parallel()
	w := newExpireWorld(t)
	ctx := context.Background()
	c, e := w.enroll(t, w.gold, -time.Minute)
	testfactory.QueueRow(t, w.pool, testfactory.QueueRowOpts{CustomerID: c, EnrollmentID: e, TierID: w.gold})
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
	t.Parallel()
	w := newExpireWorld(t)
	var expired, queued int
	err := w.pool.QueryRow(context.Background(), `SELECT * FROM process_expired_enrollments(0)`).Scan(&expired, &queued)
	if err == nil {
		t.Fatal("batch size 0 accepted")
	}
}
