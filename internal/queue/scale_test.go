package queue

import (
	"context"
	"testing"

	"tiersync/internal/testfactory"
)

// TestFairnessAtScale (issue 23): one winery with a 20 000-row backlog enqueued first, then
// 2 000 wineries with 5 rows each (one customer each). Every small winery's first row is
// claimed before the big one's 2 000th: the round-robin holds across claims, not only
// within one, at thousands of wineries. Counts and order of claims, not time.
func TestFairnessAtScale(t *testing.T) {
	t.Parallel()
	const smallClients, perSmall, bigRows = 2000, 5, 20_000
	w := newWorld(t, 2000)
	ctx := context.Background()
	testfactory.SetRateLimit(t, w.pool, w.client, 100_000) // tokens never the limit here
	if n := testfactory.QueueBacklog(t, w.pool, w.customers, w.tier, ActionCancel, PriorityLow, bigRows/2000); n != bigRows {
		t.Fatalf("big backlog of %d rows, want %d", n, bigRows)
	}
	// The small wineries, their tiers, customers and rows, in one statement; their rows
	// come after the big backlog, so an oldest-first claim would serve them last.
	tag, err := w.pool.Exec(ctx, `
		WITH c AS (
			INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute)
			SELECT 'Small ' || g, 'commerce7', 'small-' || g, 100000 FROM generate_series(1, $1) g
			RETURNING id
		), t AS (
			INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
			SELECT id, 'commerce7', 'Gold', 1, 12, gen_random_uuid()::text, 'Ship' FROM c
			RETURNING client_id, id
		), cu AS (
			INSERT INTO customers (client_id, email)
			SELECT client_id, 'small-' || client_id || '@example.com' FROM t
			RETURNING client_id, id
		)
		INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, priority)
		SELECT cu.client_id, cu.id, 'cancel_membership', t.id, $3
		FROM cu JOIN t ON t.client_id = cu.client_id CROSS JOIN generate_series(1, $2)`,
		smallClients, perSmall, PriorityLow)
	if err != nil || tag.RowsAffected() != smallClients*perSmall {
		t.Fatalf("small wineries: %v rows, %v", tag.RowsAffected(), err)
	}
	if _, err := w.pool.Exec(ctx, `ANALYZE crm_sync_queue`); err != nil {
		t.Fatal(err)
	}

	q := newQueue(w, nil, Config{})
	firsts := map[string]bool{} // small wineries whose first row is claimed
	big, claims := 0, 0
	bigWhenAllFirsts := -1
	for {
		jobs, err := q.claimer.due(ctx, 32)
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs) == 0 {
			break
		}
		claims++
		for _, j := range jobs {
			if j.RateKey == w.client {
				big++
			} else {
				firsts[j.RateKey] = true
			}
		}
		if bigWhenAllFirsts < 0 && len(firsts) == smallClients {
			bigWhenAllFirsts = big // counts the whole claim: the bound is conservative
		}
	}
	// Claimed rows stay processing, so each customer's later rows wait behind its first:
	// the claims take every customer's first row and stop.
	if len(firsts) != smallClients || big != 2000 {
		t.Fatalf("claimed the first row of %d small wineries and %d big-winery rows, want %d and 2000",
			len(firsts), big, smallClients)
	}
	if bigWhenAllFirsts >= 2000 {
		t.Fatalf("the big winery had %d rows claimed when the last small winery got its first, want fewer than 2000", bigWhenAllFirsts)
	}
	t.Logf("%d claims; every small winery's first row was claimed by the time the big one had %d", claims, bigWhenAllFirsts)
}
