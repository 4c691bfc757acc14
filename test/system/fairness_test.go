package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
	"tiersync/internal/testfactory"
)

// TestRateLimitsAndFairness: one big Commerce7 tenant limited to R requests a minute and
// five small ones, drained by two replicas through fakecrm (which enforces R per tenant
// too). Everything is asserted on counts, none on the wall clock: the small tenants finish
// while the big one has done less than half its rows, every row completes, and at most 1 %
// of the big tenant's requests are answered 429 (the replicas together never outrun R).
// The drain rate is logged, not asserted: how close it comes to R is a speed figure, and
// speed lives in benchmarks (the limiter's refill is tested on an injected clock in
// internal/queue). R is raised (3 600/min) so the drain takes ~30 s.
func TestRateLimitsAndFairness(t *testing.T) {
	t.Parallel()
	const (
		ratePerMin = 3600
		bigRows    = 500 // three requests each: 1 500 requests, ~25 s at R
		smallRows  = 100
		smalls     = 5
	)
	dbURL := dbtest.NewURL(t)
	fake := fakeCRMWith(t, "--c7-rate-limit", strconv.Itoa(ratePerMin))
	ctx := context.Background()
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	seedTenant := func(tenant string, rows, rate int) {
		t.Helper()
		seeded := seedFakeCustomers(t, fake, tenant, "m", rows)
		client := testfactory.Client(t, pool, testfactory.ClientOpts{Name: tenant, Tenant: tenant, RateLimitPerMinute: rate})
		tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold", C7ClubID: "club-gold", C7DeliveryMethod: "Pickup"})
		members := make([]testfactory.CustomerOpts, rows)
		for i := range members {
			members[i] = testfactory.CustomerOpts{Email: seeded[i].email, CRMID: seeded[i].id}
		}
		customers := testfactory.CustomersWith(t, pool, client, members)
		queued := make([]testfactory.QueueRowOpts, rows)
		for i, c := range customers {
			queued[i] = testfactory.QueueRowOpts{CustomerID: c, TierID: tier, CustomerCRMID: seeded[i].id}
		}
		testfactory.QueueRows(t, pool, queued)
	}
	// The big backlog is queued first: a plain FIFO claim would make the small tenants wait
	// behind all of it.
	seedTenant("big", bigRows, ratePerMin)
	for i := range smalls {
		seedTenant(fmt.Sprintf("small%d", i), smallRows, 100000)
	}

	env := []string{
		"DATABASE_URL=" + dbURL, "TIERSYNC_API_TOKEN=system-test-token-0123456789",
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		"WORKERS=8", "POLL_INTERVAL=100ms", "LISTEN_ADDR=127.0.0.1:0", "LOG_LEVEL=error",
		"SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=off",
	}
	startReplica(t, env)
	startReplica(t, env)
	start := time.Now()
	done := func(tenant string) int {
		return count(t, pool, `SELECT count(*) FROM crm_sync_queue q JOIN clients c ON c.id = q.client_id
			WHERE c.tenant = $1 AND q.status = 'completed'`, tenant)
	}
	waitFor(t, 2*time.Minute, "the small tenants drained", func() bool {
		for i := range smalls {
			if done(fmt.Sprintf("small%d", i)) != smallRows {
				return false
			}
		}
		return true
	})
	smallsDone := time.Since(start)
	bigAtThatPoint := done("big")
	waitFor(t, 3*time.Minute, "the big tenant drained", func() bool { return done("big") == bigRows })
	bigDone := time.Since(start)

	if bigAtThatPoint >= bigRows/2 {
		t.Fatalf("the small tenants finished after %v, when the big one had already %d of %d rows done", smallsDone, bigAtThatPoint, bigRows)
	}
	resp, err := http.Get(fake + "/_fake/commerce7/requests")
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Requests []struct {
			Tenant string
			Status int
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var bigRequests, throttled int
	for _, r := range log.Requests {
		if r.Tenant == "big" {
			bigRequests++
			if r.Status == http.StatusTooManyRequests {
				throttled++
			}
		}
	}
	// The rate over the big tenant's drain, less the first second's burst the bucket allows.
	rate := float64(bigRequests-ratePerMin/60) / bigDone.Seconds() * 60
	t.Logf("small tenants done in %v (big: %d/%d rows then); big done in %v: %d requests, %.0f/min of %d, %d answered 429",
		smallsDone.Round(time.Millisecond), bigAtThatPoint, bigRows, bigDone.Round(time.Millisecond), bigRequests, rate, ratePerMin, throttled)
	if float64(throttled) > 0.01*float64(bigRequests) {
		t.Fatalf("%d of %d requests answered 429", throttled, bigRequests)
	}
}

// fakeCRMWith runs `tiersync-dev fakecrm` with extra flags.
func fakeCRMWith(t *testing.T, flags ...string) string {
	t.Helper()
	return startFake(t, append([]string{"fakecrm", "--listen", "127.0.0.1:0"}, flags...))
}
