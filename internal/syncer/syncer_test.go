package syncer_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
	"tiersync/internal/syncer"
	"tiersync/internal/testfactory"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const tenant = "napa-cellars"

// world is a Commerce7 client in the database with two tiers, one customer and her
// active Gold enrollment, and a fake Commerce7 for it.
type world struct {
	pool                         *pgxpool.Pool
	fake                         *c7test.Fake
	s                            *syncer.Syncer
	client, gold, platinum, cust string
	enrollment                   string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{pool: dbtest.New(t)}
	var url string
	w.fake, url = c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "secret", Tenants: []string{tenant}, RateLimit: -1})
	w.fake.AddClub(tenant, "club-gold")
	w.fake.AddClub(tenant, "club-platinum")
	c7, err := commerce7.New(commerce7.Config{BaseURL: url, AppID: "app", Key: "secret", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w.s = syncer.New(w.pool, membership.NewStore(w.pool, nil), map[string]syncer.ProviderFunc{
		"commerce7": func(_ context.Context, c syncer.Client) (crm.Provider, error) {
			return c7.Provider(c.ID, c.Tenant), nil
		},
	})
	w.client = testfactory.Client(t, w.pool, testfactory.ClientOpts{Name: "Napa Cellars", Tenant: tenant, RateLimitPerMinute: 100})
	w.gold = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{Name: "Gold", Rank: 1, C7ClubID: "club-gold"})
	w.platinum = testfactory.Tier(t, w.pool, w.client, testfactory.TierOpts{Name: "Platinum", Rank: 2, C7ClubID: "club-platinum"})
	w.cust = testfactory.Customer(t, w.pool, w.client, testfactory.CustomerOpts{Email: "ada@example.com", FirstName: "Ada", LastName: "Lovelace",
		Address: map[string]string{"address": "1 Vine St", "city": "Napa", "state_code": "CA", "zip_code": "94558", "country_code": "US"}})
	w.enrollment = w.enroll(t, w.gold)
	return w
}

func (w *world) enroll(t *testing.T, tier string) string {
	t.Helper()
	return testfactory.Enrollment(t, w.pool, testfactory.EnrollmentOpts{CustomerID: w.cust, TierID: tier,
		EnrolledAt: time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC), ExpiresAt: time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)})
}

// job enqueues a row of this action and returns it as the engine hands it to a handler:
// the syncer reads the rest from the row.
func (w *world) job(t *testing.T, action, tier string, oldTier *string, enrollment string) queue.Job {
	t.Helper()
	ids, err := queue.Enqueue(context.Background(), w.pool, queue.NewJob{ActionType: action, RateKey: w.client,
		OrderKey: w.cust, ClientID: w.client, CustomerID: w.cust, EnrollmentID: &enrollment, TierID: tier, OldTierID: oldTier})
	if err != nil {
		t.Fatal(err)
	}
	return queue.Job{ID: ids[0], ActionType: action, RateKey: w.client, OrderKey: w.cust, Attempt: 1, MaxAttempts: 5}
}

func (w *world) crmIDs(t *testing.T, enrollment string) (customer, membership *string) {
	t.Helper()
	err := w.pool.QueryRow(context.Background(), `SELECT cu.crm_id, e.crm_membership_id
		FROM customers cu, enrollments e WHERE cu.id = $1 AND e.id = $2`, w.cust, enrollment).Scan(&customer, &membership)
	if err != nil {
		t.Fatal(err)
	}
	return customer, membership
}

func TestAddRecordsTheCRMIDs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.s.Handle(context.Background(), w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment)); err != nil {
		t.Fatal(err)
	}
	custID, membershipID := w.crmIDs(t, w.enrollment)
	c, ok := w.fake.CustomerByEmail(tenant, "ada@example.com")
	if !ok || custID == nil || *custID != c.ID {
		t.Fatalf("customer crm_id %v, fake has %+v", custID, c)
	}
	ms := w.fake.Memberships(tenant, c.ID)
	if len(ms) != 1 || membershipID == nil || *membershipID != ms[0].ID || ms[0].ClubID != "club-gold" {
		t.Fatalf("crm_membership_id %v, fake has %+v", membershipID, ms)
	}
	if !ms[0].SignupDate.Equal(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("signup date %v, want the enrollment's", ms[0].SignupDate)
	}
	// Run again (a retry after a crash before the outcome was written): nothing new.
	if err := w.s.Handle(context.Background(), w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment)); err != nil {
		t.Fatal(err)
	}
	if n := len(w.fake.Memberships(tenant, c.ID)); n != 1 || len(w.fake.Customers(tenant)) != 1 {
		t.Fatalf("after a second run: %d memberships, %d customers", n, len(w.fake.Customers(tenant)))
	}
}

func TestUpgradeAndCancel(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	if err := w.s.Handle(ctx, w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `UPDATE enrollments SET status = 'upgraded', ended_at = now() WHERE id = $1`, w.enrollment); err != nil {
		t.Fatal(err)
	}
	next := w.enroll(t, w.platinum)
	if err := w.s.Handle(ctx, w.job(t, queue.ActionUpgrade, w.platinum, &w.gold, next)); err != nil {
		t.Fatal(err)
	}
	custID, membershipID := w.crmIDs(t, next)
	var live []c7test.Membership
	for _, m := range w.fake.Memberships(tenant, *custID) {
		if m.Status == "Active" {
			live = append(live, m)
		}
	}
	if len(live) != 1 || live[0].ClubID != "club-platinum" || membershipID == nil || *membershipID != live[0].ID {
		t.Fatalf("live %+v, stored %v", live, membershipID)
	}
	if err := w.s.Handle(ctx, w.job(t, queue.ActionCancel, w.platinum, nil, next)); err != nil {
		t.Fatal(err)
	}
	for _, m := range w.fake.Memberships(tenant, *custID) {
		if m.Status != "Cancelled" {
			t.Fatalf("after cancel: %+v", m)
		}
	}
}

func TestCancelNeverCreatesTheCustomer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if err := w.s.Handle(context.Background(), w.job(t, queue.ActionCancel, w.gold, nil, w.enrollment)); err != nil {
		t.Fatal(err)
	}
	if n := len(w.fake.Requests()); n != 0 {
		t.Fatalf("%d CRM requests for a customer the CRM never knew", n)
	}
}

func TestOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		fault c7test.Fault
		check func(t *testing.T, err error)
	}{
		{"422 fails the row at once with the CRM's message and the row's id", c7test.Fault{Method: http.MethodPost, Path: "/club-membership", Kind: c7test.FaultStatus, Status: 422},
			func(t *testing.T, err error) {
				if !queue.IsPermanent(err) || !regexp.MustCompile(`^row #\d+: commerce7: `).MatchString(err.Error()) {
					t.Fatalf("%v: want permanent, naming its row", err)
				}
			}},
		{"429 is a throttle with the CRM's wait", c7test.Fault{Kind: c7test.FaultStatus, Status: 429, RetryAfter: 42},
			func(t *testing.T, err error) {
				var th *queue.ThrottledError
				if !errors.As(err, &th) || th.After != 42*time.Second {
					t.Fatalf("%v: want throttled for 42s", err)
				}
			}},
		{"503 is retried", c7test.Fault{Kind: c7test.FaultStatus, Status: 503},
			func(t *testing.T, err error) {
				var th *queue.ThrottledError
				if err == nil || queue.IsPermanent(err) || errors.As(err, &th) {
					t.Fatalf("%v: want a plain, retryable error", err)
				}
				var h queue.HTTPStatus
				if !errors.As(err, &h) || h.HTTPStatus() != 503 {
					t.Fatalf("%v: the status is not carried for the attempt history", err)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			c.fault.Count = 1
			w.fake.Inject(c.fault)
			c.check(t, w.s.Handle(context.Background(), w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment)))
		})
	}
}

func TestACRMWithoutCredentialsSaysSo(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	s := syncer.New(w.pool, membership.NewStore(w.pool, nil), nil)
	err := s.Handle(context.Background(), w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment))
	if err == nil || queue.IsPermanent(err) || !strings.Contains(err.Error(), "no commerce7 credentials") {
		t.Fatalf("error %v", err)
	}
}

func TestACRMCustomerLinkedTwiceIsPermanent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	// The merchant's CRM has one customer; we have another customer row already linked to it.
	c := w.fake.AddCustomer(tenant, c7test.Customer{FirstName: "Ada", LastName: "L", Emails: []string{"ada@example.com"}})
	testfactory.Customer(t, w.pool, w.client, testfactory.CustomerOpts{Email: "ada.old@example.com", CRMID: c.ID})
	err := w.s.Handle(ctx, w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment))
	if !queue.IsPermanent(err) || !strings.Contains(err.Error(), "already linked") {
		t.Fatalf("error %v", err)
	}
}

// A customer the sync creates skips the listings on its way to the membership; when the
// membership's answer is lost, the retry finds the customer's id stored, reads everything,
// and finds the membership made: one customer, one membership.
func TestANewCustomersLostAnswerIsFoundOnRetry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	w.fake.Inject(c7test.Fault{Method: http.MethodPost, Path: "/club-membership", Count: 1, Kind: c7test.FaultLoseAnswer})
	if err := w.s.Handle(ctx, w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment)); err == nil {
		t.Fatal("the lost answer was not reported: the row would not be retried")
	}
	listed := func(rs []c7test.Request) bool {
		for _, r := range rs {
			if r.Method == http.MethodGet && r.Path == "/club-membership" {
				return true
			}
		}
		return false
	}
	first := len(w.fake.Requests())
	if listed(w.fake.Requests()) {
		t.Fatal("the first run listed the memberships of a customer it had just created")
	}
	if custID, _ := w.crmIDs(t, w.enrollment); custID == nil {
		t.Fatal("the created customer's id was not stored before the membership was asked for")
	}
	if err := w.s.Handle(ctx, w.job(t, queue.ActionAdd, w.gold, nil, w.enrollment)); err != nil {
		t.Fatal(err)
	}
	c, _ := w.fake.CustomerByEmail(tenant, "ada@example.com")
	ms := w.fake.Memberships(tenant, c.ID)
	_, membershipID := w.crmIDs(t, w.enrollment)
	if len(w.fake.Customers(tenant)) != 1 || len(ms) != 1 || membershipID == nil || *membershipID != ms[0].ID {
		t.Fatalf("%d customers, memberships %+v, stored %v", len(w.fake.Customers(tenant)), ms, membershipID)
	}
	if !listed(w.fake.Requests()[first:]) {
		t.Fatal("the retry did not list the customer's memberships")
	}
}
