package queue

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/db"
	"tiersync/internal/testfactory"
)

// addC7Client adds a Commerce7 client with a tier and one customer, and enqueues one
// add_membership row for that customer; it returns the row's id.
func (w *world) addC7Client(t *testing.T, tenant string) (client string, id int64) {
	t.Helper()
	client = testfactory.Client(t, w.pool, testfactory.ClientOpts{Name: tenant, Tenant: tenant})
	tier := testfactory.Tier(t, w.pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold"})
	customer := testfactory.Customer(t, w.pool, client, testfactory.CustomerOpts{Email: tenant + "@example.com"})
	err := db.InTx(context.Background(), w.pool, func(tx pgx.Tx) error {
		ids, err := Enqueue(context.Background(), tx, NewJob{ClientID: client, CustomerID: customer, ActionType: ActionAdd, TierID: tier})
		if err == nil {
			id = ids[0]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return client, id
}

// history is a row's attempt history: outcome and error of each attempt.
func (w *world) history(t *testing.T, id int64) []string {
	t.Helper()
	rows, err := w.pool.Query(context.Background(),
		`SELECT outcome || ': ' || coalesce(error, '') FROM crm_sync_attempts WHERE queue_id = $1 ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeTogether runs each claimed row's handler and then writes all their outcomes through
// the engine's writer as ONE batch: the outcomes are queued before the writer starts, so
// its first read finds them all waiting. Deterministic, no timing involved.
func writeTogether(t *testing.T, q *Queue, want int) {
	t.Helper()
	jobs, err := q.claimer.due(context.Background(), 100)
	if err != nil || len(jobs) != want {
		t.Fatalf("claimed %d rows (%v), want %d", len(jobs), err, want)
	}
	for _, j := range jobs {
		q.executor.execute(j, q.writer.submit, func() {})
	}
	q.writer.start()
	q.writer.stop()
}

// TestHostileCRMAnswerCostsOnlyItsRow: a CRM answers one tenant's call with an error
// carrying a NUL and a UTF-8 sequence cut mid-character, while rows of other tenants in
// the same writer batch succeed or fail normally. Before the fix PostgreSQL refused the
// whole batch ("invalid byte sequence for encoding UTF8"), the writer retried it for a
// lease, the leases lapsed and every row of the batch lost an attempt as lease_expired.
func TestHostileCRMAnswerCostsOnlyItsRow(t *testing.T) {
	t.Parallel()
	long := "Validation failed: customer\x00 names " + strings.Repeat("é", 300)
	cases := []struct {
		name       string
		fault      c7test.Fault
		wantStatus string
		wantIn     string // the useful part of the CRM's message, which must survive
	}{
		{
			name: "raw 503 body from a proxy",
			fault: c7test.Fault{Kind: c7test.FaultStatus, Status: 503,
				RawBody: "Service Unavailable\x00: upstream caf\xc3"},
			wantStatus: StatusPending, wantIn: "Service Unavailable",
		},
		{
			name:       "JSON 422 message cut mid-character by the client's cap",
			fault:      c7test.Fault{Kind: c7test.FaultStatus, Status: 422, Message: long},
			wantStatus: StatusFailed, wantIn: "Validation failed: customer",
		},
	}
	if utf8.ValidString(long[:500]) {
		t.Fatal("the long message must be cut mid-character at 500 bytes")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 1)
			clk := newClock()
			ctx := context.Background()
			fake, url := c7test.Start(t, c7test.Options{AppID: "app", AppSecret: "secret", RateLimit: -1})
			client, err := commerce7.New(commerce7.Config{BaseURL: url, AppID: "app", Key: "secret", Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			okClient, okRow := w.addC7Client(t, "fine")
			badClient, badRow := w.addC7Client(t, "flaky")
			hostileClient, hostileRow := w.addC7Client(t, "hostile")
			tenants := map[string]string{okClient: "fine", badClient: "flaky", hostileClient: "hostile"}
			// flaky fails normally; hostile answers the hostile body.
			fake.Inject(c7test.Fault{Tenant: "flaky", Kind: c7test.FaultStatus, Status: 503})
			f := tc.fault
			f.Tenant = "hostile"
			fake.Inject(f)

			handler := func(ctx context.Context, j Job) error {
				tenant := tenants[j.RateKey]
				p := client.Provider(j.RateKey, tenant)
				id, _, err := p.EnsureCustomer(ctx, crm.Customer{Email: tenant + "@example.com", FirstName: "A", LastName: "B"})
				if err == nil {
					_, err = p.AddMembership(ctx, crm.MembershipChange{Customer: crm.Customer{CRMID: id},
						Tier: crm.Tier{ID: "tier-gold", Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup", PickupLocationID: "loc-1"}})
				}
				if crm.ClassOf(err) == crm.Permanent {
					return Permanent(err) // as the syncer does
				}
				return err
			}
			// A short lease, so that the code before the fix gives the batch up quickly.
			q := newQueue(w, handler, Config{WorkerID: "w1", Lease: time.Second, Now: clk.Now})
			writeTogether(t, q, 3)
			// Past the lease: a row whose outcome was not written would be rescued now.
			clk.Add(2 * time.Second)
			if _, err := q.Rescue(ctx); err != nil {
				t.Fatal(err)
			}

			if r := w.row(t, okRow); r.Status != StatusCompleted || r.Attempts != 1 {
				t.Errorf("innocent row that succeeded: %+v (%s), want completed after 1 attempt", r, deref(r.ErrorMessage))
			}
			if r := w.row(t, badRow); r.Status != StatusPending || r.Attempts != 1 || r.ErrorMessage == nil ||
				!strings.Contains(*r.ErrorMessage, "injected failure") {
				t.Errorf("innocent row that failed normally: %+v, want pending after 1 attempt with the CRM's message", r)
			}
			r := w.row(t, hostileRow)
			if r.Status != tc.wantStatus || r.Attempts != 1 || r.ErrorMessage == nil {
				t.Fatalf("hostile row: %+v, want %s after 1 attempt with a message", r, tc.wantStatus)
			}
			msg := *r.ErrorMessage
			if !utf8.ValidString(msg) || strings.ContainsRune(msg, 0) || !strings.Contains(msg, tc.wantIn) {
				t.Errorf("hostile row's message %q: want valid UTF-8 without NUL, containing %q", msg, tc.wantIn)
			}
			for _, id := range []int64{okRow, badRow, hostileRow} {
				for _, h := range w.history(t, id) {
					if strings.HasPrefix(h, "lease_expired") {
						t.Errorf("row %d lost an attempt to a lapsed lease: %v", id, w.history(t, id))
					}
				}
			}
		})
	}
}

// TestWriterIsolatesPoisonedOutcome: the writer, given a batch in which one outcome is
// poison, still writes the others. Invalid UTF-8 and NUL are cleaned by the writer itself
// (the last line of defence: whatever a handler returns, PostgreSQL never sees them); an
// outcome the database refuses for another reason (here a history outcome its CHECK
// does not allow) costs that row alone.
func TestWriterIsolatesPoisonedOutcome(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		kind       string // the poisoned outcome's crm_sync_attempts.outcome
		msg        string
		wantStatus string // the poisoned row afterwards
		wantIn     string // in its error_message
	}{
		{name: "invalid UTF-8", kind: "retry", msg: "CRM said: caf\xc3", wantStatus: StatusPending, wantIn: "CRM said: caf"},
		{name: "NUL", kind: "retry", msg: "CRM said:\x00 no", wantStatus: StatusPending, wantIn: "CRM said: no"},
		{name: "invalid UTF-8 and NUL", kind: "retry", msg: "\xff\xfeCRM\x00 said", wantStatus: StatusPending, wantIn: "CRM said"},
		{name: "refused by the schema", kind: "exploded", msg: "fine", wantStatus: StatusProcessing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, 3)
			clk := newClock()
			ids := w.enqueue(t, 3)
			poisoned := ids[1]
			q := newQueue(w, func(_ context.Context, j Job) error {
				if j.ID == ids[2] {
					return Permanent(fmt.Errorf("an ordinary failure"))
				}
				return nil
			}, Config{WorkerID: "w1", Lease: time.Second, Now: clk.Now})
			jobs, err := q.claimer.due(context.Background(), 10)
			if err != nil || len(jobs) != 3 {
				t.Fatalf("claimed %d (%v)", len(jobs), err)
			}
			for _, j := range jobs {
				write := q.writer.submit
				if j.ID == poisoned {
					// The handler's outcome, replaced by the poison before the writer sees it.
					write = func(o outcome, done func(error)) {
						msg := tc.msg
						o.status, o.kind, o.err, o.retryAfterMS = StatusPending, tc.kind, &msg, 60_000
						q.writer.submit(o, done)
					}
				}
				q.executor.execute(j, write, func() {})
			}
			q.writer.start()
			q.writer.stop()

			if r := w.row(t, ids[0]); r.Status != StatusCompleted || r.Attempts != 1 {
				t.Errorf("innocent success: %+v", r)
			}
			if r := w.row(t, ids[2]); r.Status != StatusFailed || r.Attempts != 1 || r.ErrorMessage == nil ||
				*r.ErrorMessage != "an ordinary failure" {
				t.Errorf("innocent failure: %+v", r)
			}
			r := w.row(t, poisoned)
			if r.Status != tc.wantStatus {
				t.Fatalf("poisoned row: %+v, want %s", r, tc.wantStatus)
			}
			if tc.wantIn != "" && (r.ErrorMessage == nil || !utf8.ValidString(*r.ErrorMessage) ||
				!strings.Contains(*r.ErrorMessage, tc.wantIn)) {
				t.Errorf("poisoned row's message %q, want valid UTF-8 containing %q", deref(r.ErrorMessage), tc.wantIn)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestWriterFallsBackToPlainMessage bypasses the cleaner to prove the fallback behind it:
// a batch PostgreSQL refuses because of one outcome's message is written one by one, the
// others as they were, the bad one with a plain ASCII message that says what happened.
func TestWriterFallsBackToPlainMessage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, 3)
	clk := newClock()
	ids := w.enqueue(t, 3)
	q := newQueue(w, nil, Config{WorkerID: "w1", Lease: 30 * time.Second, Now: clk.Now})
	jobs, err := q.claimer.due(context.Background(), 10)
	if err != nil || len(jobs) != 3 {
		t.Fatalf("claimed %d (%v)", len(jobs), err)
	}
	raw, ordinary := "CRM said:\x00 caf\xc3 closed", "an ordinary failure"
	now := clk.Now()
	errs := q.writer.writeOutcomes([]outcome{
		{id: ids[0], attempt: 1, status: StatusCompleted, kind: "succeeded", started: now, finished: now},
		{id: ids[1], attempt: 1, status: StatusPending, kind: "retry", retryAfterMS: 60_000, err: &raw, started: now, finished: now},
		{id: ids[2], attempt: 1, status: StatusFailed, kind: "failed", err: &ordinary, started: now, finished: now},
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("outcome %d: %v", i, err)
		}
	}
	if r := w.row(t, ids[0]); r.Status != StatusCompleted || r.Attempts != 1 {
		t.Errorf("innocent success: %+v", r)
	}
	if r := w.row(t, ids[2]); r.Status != StatusFailed || deref(r.ErrorMessage) != ordinary {
		t.Errorf("innocent failure: %+v %q", r, deref(r.ErrorMessage))
	}
	r := w.row(t, ids[1])
	want := "the database refused this attempt's error message (SQLSTATE 22021); its printable ASCII: CRM said:? caf? closed"
	if r.Status != StatusPending || r.Attempts != 1 || deref(r.ErrorMessage) != want {
		t.Errorf("refused outcome: %+v %q, want pending with %q", r, deref(r.ErrorMessage), want)
	}
	if got := w.history(t, ids[1]); len(got) != 1 || got[0] != "retry: "+want {
		t.Errorf("refused outcome's history %q", got)
	}
}
