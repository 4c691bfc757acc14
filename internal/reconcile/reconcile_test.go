package reconcile_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify"
	"tiersync/internal/crm/shopify/shopifytest"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/queue"
	"tiersync/internal/reconcile"
	"tiersync/internal/schedule"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// world is one client of each test, its two tiers, its CRM fake and the reconciler.
type world struct {
	t                  *testing.T
	pool               *pgxpool.Pool
	client, tenant     string
	silver, gold       string // our tier ids
	silverRef, goldRef string // the tiers at the CRM: Commerce7 clubs, Shopify tags
	c7                 *c7test.Fake
	shop               *shopifytest.Fake
	lister             func() crm.Lister
	sched              *schedule.Scheduler
	rec                *reconcile.Reconciler
	alerts             []string
	listCalls          atomic.Int64
	failListAfter      atomic.Int64  // >0: ListMembers fails after this many calls
	hangListAt         atomic.Int64  // >0: that call of ListMembers hangs until its context ends
	hung               chan struct{} // closed when a call hangs
	crmType            string
}

const (
	appID, appKey = "reconcile-app", "reconcile-key"
	shopToken     = "shpat_reconcile"
)

func newWorld(t *testing.T, crmType, policy string) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{t: t, pool: dbtest.New(t), crmType: crmType}
	w.client = testfactory.Client(t, w.pool, testfactory.ClientOpts{CRMType: crmType})
	if _, err := w.pool.Exec(ctx, `UPDATE clients SET drift_policy = $2 WHERE id = $1`, w.client, policy); err != nil {
		t.Fatal(err)
	}
	if err := w.pool.QueryRow(ctx, `SELECT tenant FROM clients WHERE id = $1`, w.client).Scan(&w.tenant); err != nil {
		t.Fatal(err)
	}
	limiter := queue.NewLimiter(w.pool, nil).Low()
	switch crmType {
	case "commerce7":
		w.silverRef, w.goldRef = "club-silver", "club-gold"
		w.silver = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{Name: "Silver", Rank: 1, C7ClubID: w.silverRef, C7DeliveryMethod: "Ship"})
		w.gold = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{Name: "Gold", Rank: 2, C7ClubID: w.goldRef, C7DeliveryMethod: "Ship"})
		fake, url := c7test.Start(t, c7test.Options{AppID: appID, AppSecret: appKey, RateLimit: -1})
		w.c7 = fake
		c, err := commerce7.New(commerce7.Config{BaseURL: url, AppID: appID, Key: appKey, Limiter: limiter})
		if err != nil {
			t.Fatal(err)
		}
		w.lister = func() crm.Lister { return c.Provider(w.client, w.tenant) }
	case "shopify":
		w.silverRef, w.goldRef = "club-silver", "club-gold"
		w.silver = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{Name: "Silver", Rank: 1, ShopifyTag: w.silverRef})
		w.gold = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{Name: "Gold", Rank: 2, ShopifyTag: w.goldRef})
		fake, url := shopifytest.Start(t, shopifytest.Options{})
		fake.AddShop(w.tenant, shopToken)
		w.shop = fake
		c, err := shopify.New(shopify.Config{BaseURL: url, Limiter: limiter})
		if err != nil {
			t.Fatal(err)
		}
		w.lister = func() crm.Lister { return c.Provider(w.client, w.tenant, shopToken) }
	}
	w.rec = reconcile.New(reconcile.Config{Pool: w.pool, Listers: w.listers, AlertThreshold: 3, Backoff: time.Millisecond,
		Alert: func(_ context.Context, text string) error {
			w.alerts = append(w.alerts, text)
			return nil
		}})
	var err error
	w.sched, err = schedule.New(w.pool, schedule.Options{Runner: "reconcile-test"},
		schedule.Job{Name: schedule.JobReconcile, Spec: "off", Run: func(context.Context, int64) (any, error) { return nil, nil }})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// listers hands the reconciler the test's CRM reader, counting (and on demand failing)
// its listing calls.
func (w *world) listers(context.Context, reconcile.Client) (crm.Lister, error) {
	return countingLister{Lister: w.lister(), w: w}, nil
}

type countingLister struct {
	crm.Lister
	w *world
}

func (l countingLister) ListMembers(ctx context.Context, tiers []crm.Tier, cursor string) ([]crm.Member, string, error) {
	n := l.w.listCalls.Add(1)
	if after := l.w.failListAfter.Load(); after > 0 && n > after {
		return nil, "", &crm.Error{Class: crm.Retryable, CRM: l.w.crmType, Op: "list", Message: "the test's outage"}
	}
	if at := l.w.hangListAt.Load(); at > 0 && n == at {
		close(l.w.hung)
		<-ctx.Done()
		return nil, "", ctx.Err()
	}
	return l.Lister.ListMembers(ctx, tiers, cursor)
}

// crmCustomer makes a customer at the CRM and returns its id.
func (w *world) crmCustomer(email string) string {
	w.t.Helper()
	if w.c7 != nil {
		id := w.c7.AddCustomer(w.tenant, c7test.Customer{FirstName: "F", LastName: "L", Emails: []string{email}}).ID
		w.c7.AddAddress(w.tenant, c7test.Address{CustomerID: id, Address: "1 Vine St", City: "Napa", StateCode: "CA",
			ZipCode: "94558", CountryCode: "US", IsDefault: true})
		return id
	}
	return w.shop.AddCustomer(w.tenant, shopifytest.Customer{Email: email}).ID
}

// hold gives the CRM customer the tier (ref is the club or the tag) behind tiersync's back.
func (w *world) hold(crmID, ref, tierName string) {
	w.t.Helper()
	if w.c7 != nil {
		w.c7.AddMembership(w.tenant, c7test.Membership{CustomerID: crmID, ClubID: ref, OrderDeliveryMethod: "Ship"})
		return
	}
	c, _ := w.shop.Customer(w.tenant, crmID)
	w.shop.SetTags(w.tenant, crmID, append(c.Tags, ref))
	w.shop.SetMetafield(w.tenant, crmID, "tiersync", "tier", tierName)
}

// ours makes our customer (linked to crmID when given) with an enrollment of tier in
// status ("" none).
func (w *world) ours(email, crmID, tier, status string) (customer, enrollment string) {
	w.t.Helper()
	customer = testfactory.Customer(w.t, w.pool, w.client, testfactory.CustomerOpts{Email: email, CRMID: crmID})
	if status != "" {
		o := testfactory.EnrollmentOpts{CustomerID: customer, TierID: tier, Status: status}
		if status != "active" {
			o.ExpiresAt = time.Now().Add(-time.Hour)
			o.EndedAt = time.Now().Add(-time.Minute)
		}
		enrollment = testfactory.Enrollment(w.t, w.pool, o)
	}
	return customer, enrollment
}

func (w *world) run(opts reconcile.Options) (schedule.Run, reconcile.Result) {
	w.t.Helper()
	r, err := w.sched.TriggerWith(context.Background(), schedule.JobReconcile, func(ctx context.Context, id int64) (any, error) {
		return w.rec.Run(ctx, id, opts)
	})
	if err != nil {
		w.t.Fatal(err)
	}
	var res reconcile.Result
	if err := json.Unmarshal(r.Result, &res); err != nil {
		w.t.Fatalf("result %s: %v", r.Result, err)
	}
	return r, res
}

func (w *world) scalar(sql string, args ...any) string {
	w.t.Helper()
	var s *string
	if err := w.pool.QueryRow(context.Background(), sql, args...).Scan(&s); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
	if s == nil {
		return "<nil>"
	}
	return *s
}

// drift sets up one of every kind of difference, and a customer in step, one whose row
// is in flight, and one the CRM holds under an unknown id with no customer of ours.
type drift struct {
	inStep, missing, extra, wrongTier, afterExpiry, relinked, inFlight string // our customer ids
	missingEnrollment, wrongEnrollment, expiredEnrollment              string
	relinkedCRMID, unknownCRMID, unknownEmail                          string
}

func (w *world) drift() drift {
	var d drift
	a := w.crmCustomer("a@example.com")
	w.hold(a, w.silverRef, "Silver")
	d.inStep, _ = w.ours("a@example.com", a, w.silver, "active")

	b := w.crmCustomer("b@example.com") // a membership cancelled at the CRM by hand
	d.missing, d.missingEnrollment = w.ours("b@example.com", b, w.silver, "active")

	c := w.crmCustomer("c@example.com") // a membership added at the CRM by hand
	w.hold(c, w.goldRef, "Gold")
	d.extra, _ = w.ours("c@example.com", c, "", "")

	dd := w.crmCustomer("d@example.com") // moved to Silver at the CRM; Gold here
	w.hold(dd, w.silverRef, "Silver")
	d.wrongTier, d.wrongEnrollment = w.ours("d@example.com", dd, w.gold, "active")

	e := w.crmCustomer("e@example.com") // expired here, the cancel never reached the CRM
	w.hold(e, w.silverRef, "Silver")
	d.afterExpiry, d.expiredEnrollment = w.ours("e@example.com", e, w.silver, "expired")

	d.relinkedCRMID = w.crmCustomer("f@example.com") // merged at the CRM: a new id
	w.hold(d.relinkedCRMID, w.silverRef, "Silver")
	d.relinked, _ = w.ours("f@example.com", "crm-id-before-the-merge", w.silver, "active")

	h := w.crmCustomer("h@example.com") // its add is still queued: not a difference yet
	d.inFlight, _ = w.ours("h@example.com", h, w.silver, "active")
	testfactory.QueueRow(w.t, w.pool, testfactory.QueueRowOpts{CustomerID: d.inFlight, TierID: w.silver, ActionType: "add_membership"})

	d.unknownEmail = "g@example.com" // a member the CRM has and we never heard of
	d.unknownCRMID = w.crmCustomer(d.unknownEmail)
	w.hold(d.unknownCRMID, w.goldRef, "Gold")
	return d
}

func TestEveryKindBothPoliciesBothCRMs(t *testing.T) {
	for _, crmType := range []string{"commerce7", "shopify"} {
		for _, policy := range []string{reconcile.PolicyTiersyncWins, reconcile.PolicyCRMWins} {
			t.Run(crmType+"/"+policy, func(t *testing.T) {
				w := newWorld(t, crmType, policy)
				d := w.drift()
				r, res := w.run(reconcile.Options{})
				if r.Status != schedule.StatusSucceeded {
					t.Fatalf("run %s: %v", r.Status, *r.Error)
				}
				want := map[string]int{reconcile.KindMissing: 1, reconcile.KindExtra: 2, reconcile.KindWrongTier: 1,
					reconcile.KindAfterExpiry: 1, reconcile.KindDifferentCRMID: 1}
				for _, k := range reconcile.Kinds {
					if res.Differences[k] != want[k] {
						t.Errorf("%s: %d differences, want %d (all: %v)", k, res.Differences[k], want[k], res.Differences)
					}
				}
				if res.Repaired != 6 || res.Clients != 1 || res.Failed != 0 {
					t.Errorf("result %+v: want 6 repaired of one client", res)
				}
				w.checkRepairs(d, policy)
				if len(w.alerts) != 1 || !strings.Contains(w.alerts[0], "6 difference(s)") {
					t.Errorf("alerts %q: want one naming the 6 differences (threshold 3)", w.alerts)
				}
				// The listing is dropped once compared, but for the differences' customers.
				if kept := w.scalar(`SELECT count(DISTINCT crm_customer_id)::text FROM reconcile_crm_members`); kept != "5" {
					t.Errorf("%s CRM customers' listing kept after the run, want the 5 with a difference", kept)
				}

				// Once the queue has done its work, a second run finds the CRM in step.
				w.applyQueue()
				_, again := w.run(reconcile.Options{})
				for _, k := range reconcile.Kinds {
					if again.Differences[k] != 0 {
						t.Errorf("second run: %v: want none once repaired", again.Differences)
						break
					}
				}
			})
		}
	}
}

// checkRepairs asserts what each policy did about each difference.
func (w *world) checkRepairs(d drift, policy string) {
	t := w.t
	t.Helper()
	queued := func(customer string) string {
		return w.scalar(`SELECT string_agg(action_type || ':' || (SELECT name FROM tiers WHERE id = q.tier_id) ||
		                        coalesce('<-' || (SELECT name FROM tiers WHERE id = q.old_tier_id), '') || ':' || priority, ',' ORDER BY id)
		                 FROM crm_sync_queue q WHERE customer_id = $1`, customer)
	}
	status := func(enrollment string) string {
		return w.scalar(`SELECT status || ':' || (SELECT name FROM tiers WHERE id = e.tier_id) FROM enrollments e WHERE id = $1`, enrollment)
	}
	events := func(customer string) string {
		return w.scalar(`SELECT string_agg(ev.event || ':' || ev.cause, ',' ORDER BY ev.id) FROM enrollment_events ev
		                 JOIN enrollments e ON e.id = ev.enrollment_id WHERE e.customer_id = $1`, customer)
	}
	active := func(customer string) string {
		return w.scalar(`SELECT (SELECT (SELECT name FROM tiers WHERE id = e.tier_id) || ':' || e.source FROM enrollments e
		                 WHERE customer_id = $1 AND status = 'active')`, customer)
	}
	expect := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
	}
	expect("in step: queue", queued(d.inStep), "<nil>")
	expect("after expiry: queue (both policies)", queued(d.afterExpiry), "cancel_membership:Silver:-10")
	expect("relinked: crm id (both policies)", w.scalar(`SELECT crm_id FROM customers WHERE id = $1`, d.relinked), d.relinkedCRMID)
	expect("relinked: queue", queued(d.relinked), "<nil>")
	expect("in flight: queue", queued(d.inFlight), "add_membership:Silver:0")
	unknown := w.scalar(`SELECT id::text FROM customers WHERE client_id = $1 AND email = $2 AND crm_id = $3`, w.client, d.unknownEmail, d.unknownCRMID)
	if unknown == "<nil>" {
		t.Fatalf("the CRM's unknown member was not imported as a customer of ours")
	}
	if policy == reconcile.PolicyTiersyncWins {
		expect("missing: queue", queued(d.missing), "add_membership:Silver:-10")
		expect("extra: queue", queued(d.extra), "cancel_membership:Gold:-10")
		expect("wrong tier: queue", queued(d.wrongTier), "upgrade_membership:Gold<-Silver:-10")
		expect("unknown member: queue", queued(unknown), "cancel_membership:Gold:-10")
		expect("missing: enrollment", status(d.missingEnrollment), "active:Silver")
		expect("wrong tier: enrollment", status(d.wrongEnrollment), "active:Gold")
		expect("extra: no enrollment here", active(d.extra), "<nil>")
		return
	}
	expect("missing: enrollment cancelled here", status(d.missingEnrollment), "cancelled:Silver")
	expect("missing: events", events(d.missing), "cancelled:reconcile")
	expect("missing: flags", w.scalar(`SELECT is_club_member::text FROM customers WHERE id = $1`, d.missing), "false")
	expect("missing: queue", queued(d.missing), "<nil>")
	expect("extra: enrolled here", active(d.extra), "Gold:reconcile")
	expect("extra: events", events(d.extra), "enrolled:reconcile")
	expect("extra: flags", w.scalar(`SELECT (SELECT name FROM tiers WHERE id = current_tier_id) FROM customers WHERE id = $1`, d.extra), "Gold")
	expect("extra: queue", queued(d.extra), "<nil>")
	expect("wrong tier: moved here", status(d.wrongEnrollment), "active:Silver")
	expect("wrong tier: events", events(d.wrongTier), "upgraded:reconcile")
	expect("wrong tier: queue", queued(d.wrongTier), "<nil>")
	expect("unknown member: enrolled here", active(unknown), "Gold:reconcile")
}

// applyQueue does what the workers would do with the reconcile's rows: through the same
// providers, the changes they ask for.
func (w *world) applyQueue() {
	t := w.t
	t.Helper()
	ctx := context.Background()
	rows, err := w.pool.Query(ctx, `SELECT q.id, q.action_type, t.c7_club_id, t.shopify_tag, t.name, ot.c7_club_id, ot.shopify_tag,
	        coalesce(q.customer_crm_id, c.crm_id), coalesce(e.expires_at, now() + interval '1 year')
	    FROM crm_sync_queue q JOIN tiers t ON t.id = q.tier_id LEFT JOIN tiers ot ON ot.id = q.old_tier_id
	    JOIN customers c ON c.id = q.customer_id LEFT JOIN enrollments e ON e.id = q.enrollment_id
	    WHERE q.status = 'pending' AND q.priority < 0 ORDER BY q.id`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id                     int64
		action                 string
		club, tag, name        *string
		oldClub, oldTag, crmID *string
		expires                time.Time
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.action, &r.club, &r.tag, &r.name, &r.oldClub, &r.oldTag, &r.crmID, &r.expires); err != nil {
			t.Fatal(err)
		}
		todo = append(todo, r)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	var p crm.Provider
	switch l := w.lister().(type) {
	case *commerce7.Provider:
		p = l
	case *shopify.Provider:
		p = l
	}
	str := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	for _, r := range todo {
		tier := crm.Tier{Name: str(r.name), C7ClubID: str(r.club), C7DeliveryMethod: "Ship", ShopifyTag: str(r.tag)}
		m := crm.MembershipChange{Customer: crm.Customer{CRMID: str(r.crmID)}, Tier: tier, EnrolledAt: time.Now(), ExpiresAt: r.expires}
		var err error
		switch r.action {
		case "add_membership":
			_, err = p.AddMembership(ctx, m)
		case "cancel_membership":
			err = p.CancelMembership(ctx, m, crm.ReasonExpired)
		case "upgrade_membership":
			m.OldTier = &crm.Tier{C7ClubID: str(r.oldClub), C7DeliveryMethod: "Ship", ShopifyTag: str(r.oldTag)}
			_, err = p.UpgradeMembership(ctx, m)
		}
		if err != nil {
			t.Fatalf("row %d %s: %v", r.id, r.action, err)
		}
		if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'completed', completed_at = now() WHERE id = $1`, r.id); err != nil {
			t.Fatal(err)
		}
	}
	// The in-flight row's add lands too, as the workers would have done.
	if _, err := w.pool.Exec(ctx, `UPDATE crm_sync_queue SET status = 'cancelled' WHERE status = 'pending'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE enrollments SET status = 'cancelled', ended_at = now() WHERE customer_id IN
	        (SELECT customer_id FROM crm_sync_queue WHERE status = 'cancelled') AND status = 'active'`); err != nil {
		t.Fatal(err)
	}
}

func TestDryRunThenRepairThese(t *testing.T) {
	w := newWorld(t, "commerce7", reconcile.PolicyTiersyncWins)
	d := w.drift()
	r, res := w.run(reconcile.Options{DryRun: true})
	if r.Status != schedule.StatusSucceeded || !res.DryRun || res.Repaired != 0 || res.Differences[reconcile.KindMissing] != 1 {
		t.Fatalf("dry run %s %+v", r.Status, res)
	}
	if n := w.scalar(`SELECT count(*)::text FROM crm_sync_queue WHERE priority < 0`); n != "0" {
		t.Fatalf("a dry run queued %s rows", n)
	}
	if got := w.scalar(`SELECT crm_id FROM customers WHERE id = $1`, d.relinked); got != "crm-id-before-the-merge" {
		t.Fatalf("a dry run relinked: %s", got)
	}
	rep, err := w.rec.Report(context.Background(), r.ID, reconcile.ReportQuery{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Clients) != 1 || rep.Clients[0].Unrepaired != 6 || len(rep.Differences) != 2 || rep.NextAfter == nil {
		t.Fatalf("report: %+v", rep)
	}
	var all []reconcile.Difference
	for after := int64(0); ; {
		page, err := w.rec.Report(context.Background(), r.ID, reconcile.ReportQuery{After: after, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Differences...)
		if page.NextAfter == nil {
			break
		}
		after = *page.NextAfter
	}
	if len(all) != 6 {
		t.Fatalf("paged through %d differences, want 6", len(all))
	}
	kinds := map[string]int{}
	for _, d := range all {
		kinds[d.Kind]++
		if d.Status != reconcile.StatusConfirmed {
			t.Errorf("difference %d: status %s, want confirmed", d.ID, d.Status)
		}
	}
	if kinds[reconcile.KindExtra] != 2 {
		t.Errorf("kinds %v", kinds)
	}
	only, err := w.rec.Report(context.Background(), r.ID, reconcile.ReportQuery{Kind: reconcile.KindWrongTier})
	if err != nil || len(only.Differences) != 1 || *only.Differences[0].Tier != "Gold" || *only.Differences[0].CRMTier != "Silver" {
		t.Fatalf("wrong_tier only: %+v %v", only.Differences, err)
	}

	// A person ends one enrollment before pressing "repair these": its repair is skipped.
	if _, err := w.pool.Exec(context.Background(), `UPDATE enrollments SET status = 'cancelled', ended_at = now() WHERE id = $1`, d.wrongEnrollment); err != nil {
		t.Fatal(err)
	}
	repaired, skipped, err := w.rec.RepairDryRun(context.Background(), r.ID, w.client)
	if err != nil || repaired != 5 || skipped != 1 {
		t.Fatalf("repair these: %d repaired, %d skipped, %v; want 5 and 1", repaired, skipped, err)
	}
	if got := w.scalar(`SELECT crm_id FROM customers WHERE id = $1`, d.relinked); got != d.relinkedCRMID {
		t.Fatalf("repair these did not relink: %s", got)
	}
	if n := w.scalar(`SELECT count(*)::text FROM crm_sync_queue WHERE priority < 0`); n != "4" {
		t.Fatalf("repair these queued %s rows, want 4 (add, cancel, cancel after expiry, the unknown member's cancel)", n)
	}
	if _, _, err := w.rec.RepairDryRun(context.Background(), r.ID, w.client); err == nil {
		t.Fatal("repairing the same dry run twice: want a conflict")
	}
}

func TestResumesAfterAnInterruption(t *testing.T) {
	for _, crmType := range []string{"commerce7", "shopify"} {
		t.Run(crmType, func(t *testing.T) {
			w := newWorld(t, crmType, reconcile.PolicyTiersyncWins)
			// 240 members in step and one missing: several pages of the listing.
			var emails []string
			for i := range 240 {
				email := fmt.Sprintf("m%03d@example.com", i)
				id := w.crmCustomer(email)
				w.hold(id, w.silverRef, "Silver")
				w.ours(email, id, w.silver, "active")
				emails = append(emails, email)
			}
			b := w.crmCustomer("b@example.com")
			_, missing := w.ours("b@example.com", b, w.silver, "active")

			w.failListAfter.Store(2) // the CRM goes down after two pages
			r, res := w.run(reconcile.Options{})
			if r.Status != schedule.StatusFailed || res.Failed != 1 || res.Runs[0].Status != "interrupted" {
				t.Fatalf("interrupted run: %s %+v", r.Status, res)
			}
			var cursor string
			var pages int
			if err := w.pool.QueryRow(context.Background(), `SELECT cursor, pages FROM reconcile_runs`).Scan(&cursor, &pages); err != nil {
				t.Fatal(err)
			}
			if pages != 2 || cursor == "" {
				t.Fatalf("after the outage: %d pages saved, cursor %q; want 2 and the third page's", pages, cursor)
			}
			calls := w.listCalls.Load()

			// The sweep leaves it alone for an hour, then resumes it at the third page.
			w.failListAfter.Store(0)
			if n, err := w.rec.Orphans(context.Background()); err != nil || n != 0 {
				t.Fatalf("orphans right after the outage: %d %v; want none before the run's wait", n, err)
			}
			if got := w.scalar(`SELECT error FROM reconcile_runs`); !strings.Contains(got, "the test's outage") {
				t.Fatalf("the interrupted run's error: %q", got)
			}
			if _, err := w.pool.Exec(context.Background(), `UPDATE reconcile_runs SET resume_after = now() - interval '1 second'`); err != nil {
				t.Fatal(err)
			}
			n, err := w.rec.Orphans(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("orphans %d %v", n, err)
			}
			r2, res2 := w.run(reconcile.Options{Resume: true})
			if r2.Status != schedule.StatusSucceeded || res2.Differences[reconcile.KindMissing] != 1 || res2.Repaired != 1 {
				t.Fatalf("resumed run: %s %+v", r2.Status, res2)
			}
			var total, runs int
			if err := w.pool.QueryRow(context.Background(), `SELECT pages, (SELECT count(*) FROM reconcile_runs) FROM reconcile_runs`).Scan(&total, &runs); err != nil {
				t.Fatal(err)
			}
			if runs != 1 {
				t.Fatalf("%d client runs: the resumed run must adopt the first", runs)
			}
			if resumed := w.listCalls.Load() - calls; resumed != int64(total-2) {
				t.Fatalf("the resumed run read %d pages, want %d (the %d pages not yet saved)", resumed, total-2, total-2)
			}
			if got := w.scalar(`SELECT string_agg(action_type, ',') FROM crm_sync_queue WHERE enrollment_id = $1`, missing); got != "add_membership" {
				t.Fatalf("the missing member's repair: %s", got)
			}
			if n, _ := w.rec.Orphans(context.Background()); n != 0 {
				t.Fatalf("%d orphans after the resumed run", n)
			}
			_ = emails
		})
	}
}

// TestResumesAfterAKill: the process dies in the middle of a page (nothing of it saved,
// its job run left "running"); once the heartbeat watch fails that run, as every replica's
// scheduler does for a dead one, the next run adopts the client's run at the page after
// the last one saved, and reads every page once more at most.
func TestResumesAfterAKill(t *testing.T) {
	w := newWorld(t, "commerce7", reconcile.PolicyTiersyncWins)
	ctx := context.Background()
	for i := range 160 {
		email := fmt.Sprintf("k%03d@example.com", i)
		id := w.crmCustomer(email)
		w.hold(id, w.silverRef, "Silver")
		w.ours(email, id, w.silver, "active")
	}
	b := w.crmCustomer("b@example.com")
	_, missing := w.ours("b@example.com", b, w.silver, "active")

	// The "process": a job run row of its own and the reconciler, killed on its third page.
	var jobRun int64
	if err := w.pool.QueryRow(ctx, `INSERT INTO job_runs (job_name, trigger, scheduled_for, runner)
	        VALUES ('reconcile-memberships', 'manual', now(), 'doomed') RETURNING id`).Scan(&jobRun); err != nil {
		t.Fatal(err)
	}
	w.hung = make(chan struct{})
	w.hangListAt.Store(3)
	kctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = w.rec.Run(kctx, jobRun, reconcile.Options{})
	}()
	<-w.hung
	kill()
	<-done
	w.hangListAt.Store(0)
	if got := w.scalar(`SELECT status || ':' || pages FROM reconcile_runs`); got != "listing:2" {
		t.Fatalf("after the kill: %s, want listing:2", got)
	}
	// Its heartbeat goes stale; a replica's watch fails the run.
	if _, err := w.pool.Exec(ctx, `UPDATE job_runs SET heartbeat_at = now() - interval '2 minutes' WHERE id = $1`, jobRun); err != nil {
		t.Fatal(err)
	}
	if n, err := w.sched.RecoverCrashed(ctx); err != nil || n != 1 {
		t.Fatalf("recover crashed: %d %v", n, err)
	}
	calls := w.listCalls.Load()
	r, res := w.run(reconcile.Options{Resume: true})
	if r.Status != schedule.StatusSucceeded || res.Differences[reconcile.KindMissing] != 1 || res.Repaired != 1 {
		t.Fatalf("resumed run: %s %+v", r.Status, res)
	}
	var pages int
	if err := w.pool.QueryRow(ctx, `SELECT pages FROM reconcile_runs WHERE job_run_id = $1`, r.ID).Scan(&pages); err != nil {
		t.Fatalf("the resumed run did not adopt the killed one's: %v", err)
	}
	if resumed := w.listCalls.Load() - calls; resumed != int64(pages-2) {
		t.Fatalf("the resumed run read %d pages, want the %d not saved before the kill", resumed, pages-2)
	}
	if got := w.scalar(`SELECT string_agg(action_type, ',') FROM crm_sync_queue WHERE enrollment_id = $1`, missing); got != "add_membership" {
		t.Fatalf("the missing member's repair: %s", got)
	}
}

// TestCRMWinsNeverCancelsWhatNeverSynced: under crm_wins a membership missing at the CRM
// ends our enrollment, unless the enrollment's add never reached the CRM (its queue row
// failed): then the CRM gets it after all. Likewise a membership we cancelled that the CRM
// still holds is cancelled there, not enrolled again here.
func TestCRMWinsNeverCancelsWhatNeverSynced(t *testing.T) {
	w := newWorld(t, "commerce7", reconcile.PolicyCRMWins)
	cancelled := w.crmCustomer("cancelled@example.com")
	_, merchantEnded := w.ours("cancelled@example.com", cancelled, w.silver, "active")
	refused := w.crmCustomer("refused@example.com")
	refusedHere, neverSynced := w.ours("refused@example.com", refused, w.silver, "active")
	testfactory.QueueRow(t, w.pool, testfactory.QueueRowOpts{CustomerID: refusedHere, TierID: w.silver, EnrollmentID: neverSynced,
		Status: "failed", Attempts: 5})

	// Cancelled here by an operator; the cancel's row failed, so the CRM still holds it.
	stale := w.crmCustomer("stale@example.com")
	w.hold(stale, w.silverRef, "Silver")
	staleHere, _ := w.ours("stale@example.com", stale, w.silver, "cancelled")

	_, res := w.run(reconcile.Options{})
	if res.Differences[reconcile.KindMissing] != 2 || res.Differences[reconcile.KindExtra] != 1 || res.Repaired != 3 {
		t.Fatalf("result %+v", res)
	}
	if got := w.scalar(`SELECT string_agg(action_type, ',') FROM crm_sync_queue WHERE customer_id = $1`, staleHere); got != "cancel_membership" {
		t.Errorf("a membership cancelled here, still live at the CRM: queued %s, want its cancel (not an enrollment here)", got)
	}
	if got := w.scalar(`SELECT status FROM enrollments WHERE id = $1`, merchantEnded); got != "cancelled" {
		t.Errorf("the membership the merchant ended: enrollment %s, want cancelled here", got)
	}
	if got := w.scalar(`SELECT status FROM enrollments WHERE id = $1`, neverSynced); got != "active" {
		t.Errorf("the enrollment whose add failed: %s, want kept", got)
	}
	if got := w.scalar(`SELECT string_agg(action_type || ':' || status, ',' ORDER BY id) FROM crm_sync_queue WHERE enrollment_id = $1`, neverSynced); got != "add_membership:failed,add_membership:pending" {
		t.Errorf("the enrollment whose add failed: rows %s, want a new add", got)
	}
}

func TestBadInputIsRefused(t *testing.T) {
	w := newWorld(t, "commerce7", reconcile.PolicyTiersyncWins)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		err  func() error
	}{
		{"client id not a uuid", func() error { _, err := w.rec.Run(ctx, 1, reconcile.Options{ClientID: "nope"}); return err }},
		{"unknown client", func() error {
			_, err := w.rec.Run(ctx, 1, reconcile.Options{ClientID: "00000000-0000-0000-0000-000000000001"})
			return err
		}},
		{"report of no run", func() error { _, err := w.rec.Report(ctx, 999, reconcile.ReportQuery{}); return err }},
		{"report kind", func() error { _, err := w.rec.Report(ctx, 1, reconcile.ReportQuery{Kind: "bogus"}); return err }},
		{"report limit", func() error { _, err := w.rec.Report(ctx, 1, reconcile.ReportQuery{Limit: 501}); return err }},
		{"repair bad client", func() error { _, _, err := w.rec.RepairDryRun(ctx, 1, "x"); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || errors.Is(err, context.Canceled) {
				t.Fatalf("want a refusal, got %v", err)
			}
		})
	}
	_ = sort.Strings
}

// TestShopifyMetafieldDrift: a customer still tagged with our tier whose tiersync.tier
// metafield was edited or deleted is a wrong tier, repaired by an add (which sets the
// metafields again) under either policy; the tag itself is the membership.
func TestShopifyMetafieldDrift(t *testing.T) {
	for _, policy := range []string{reconcile.PolicyTiersyncWins, reconcile.PolicyCRMWins} {
		t.Run(policy, func(t *testing.T) {
			w := newWorld(t, "shopify", policy)
			edited := w.crmCustomer("edited@example.com")
			w.hold(edited, w.silverRef, "Gold")
			editedHere, _ := w.ours("edited@example.com", edited, w.silver, "active")
			gone := w.crmCustomer("gone@example.com")
			w.hold(gone, w.silverRef, "Silver")
			w.shop.DeleteMetafield(w.tenant, gone, "tiersync", "tier")
			goneHere, _ := w.ours("gone@example.com", gone, w.silver, "active")

			_, res := w.run(reconcile.Options{})
			if res.Differences[reconcile.KindWrongTier] != 2 || total(res.Differences) != 2 || res.Repaired != 2 {
				t.Fatalf("result %+v: want two wrong tiers, repaired", res)
			}
			for _, c := range []string{editedHere, goneHere} {
				if got := w.scalar(`SELECT string_agg(action_type || ':' || priority, ',') FROM crm_sync_queue WHERE customer_id = $1`, c); got != "add_membership:-10" {
					t.Errorf("customer %s: queued %s, want one low-priority add", c, got)
				}
				if got := w.scalar(`SELECT status FROM enrollments WHERE customer_id = $1`, c); got != "active" {
					t.Errorf("customer %s: enrollment %s, want it kept", c, got)
				}
			}
			w.applyQueue()
			if _, again := w.run(reconcile.Options{}); total(again.Differences) != 0 {
				t.Fatalf("after the adds: %v", again.Differences)
			}
		})
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
