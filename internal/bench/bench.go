// Package bench holds tiersync's benchmarks. Each runs against a real PostgreSQL and the
// real engine, and reports one JSON line (`tiersync-dev bench …`), so figures can be compared
// across machines and commits. Speed goals live here, never in timed tests.
package bench

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/db"
	"tiersync/internal/queue"
)

// QueueResult is the JSON line of `tiersync-dev bench queue`.
type QueueResult struct {
	Bench   string `json:"bench"`
	Jobs    int    `json:"jobs"`
	Clients int    `json:"clients"`
	Workers int    `json:"workers"`
	// Retained is how many completed rows sat in the table before the run, as retention
	// leaves them (issue 21: the claim must not see them).
	Retained int `json:"retained"`
	// Replicas is how many processes ran the engine (0: the bench's own process), and
	// Pooler what they connected through ("": PostgreSQL itself).
	Replicas   int     `json:"replicas,omitempty"`
	Pooler     string  `json:"pooler,omitempty"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// IdleClaimMs is the mean time of a claim once every row is done and every lane found
	// empty: what an idle deployment of this many wineries pays a poll.
	IdleClaimMs float64 `json:"idle_claim_ms"`
}

// Queue enqueues jobs rows spread evenly over clients clients (wineries) into the (fresh,
// migrated) database behind pool, after retained completed rows, drains them through the
// real engine with a no-op handler and times the drain: from the engine's start until the
// last outcome is written.
func Queue(ctx context.Context, pool *pgxpool.Pool, jobs, clients, workers, retained int) (QueueResult, error) {
	if clients < 1 || clients > jobs || retained < 0 {
		return QueueResult{}, fmt.Errorf("bench queue: %d clients for %d jobs, %d retained: want 1 to jobs clients, retained ≥ 0",
			clients, jobs, retained)
	}
	if err := seedQueue(ctx, pool, jobs, clients, retained); err != nil {
		return QueueResult{}, err
	}
	var handled atomic.Int64
	all := make(chan struct{})
	q := queue.New(pool, func(context.Context, queue.Job) error {
		if handled.Add(1) == int64(jobs) {
			close(all)
		}
		return nil
	}, queue.Config{Workers: workers, PollInterval: 100 * time.Millisecond})

	start := time.Now()
	if err := q.Start(ctx); err != nil {
		return QueueResult{}, err
	}
	select {
	case <-all:
	case <-ctx.Done():
		_ = q.Stop(context.Background())
		return QueueResult{}, fmt.Errorf("bench queue: %d of %d jobs handled: %w", handled.Load(), jobs, ctx.Err())
	}
	if err := q.Stop(ctx); err != nil { // writes the last outcomes
		return QueueResult{}, err
	}
	elapsed := time.Since(start).Seconds()

	if err := allCompleted(ctx, pool, jobs, retained); err != nil {
		return QueueResult{}, err
	}
	idle, err := idleClaim(ctx, q, clients)
	if err != nil {
		return QueueResult{}, err
	}
	return QueueResult{Bench: "queue", Jobs: jobs, Clients: clients, Workers: workers, Retained: retained, Seconds: round(elapsed),
		JobsPerSec: round(float64(jobs) / elapsed), IdleClaimMs: round(idle)}, nil
}

// allCompleted checks that the drain completed every one of its jobs rows, beside the
// retained ones.
func allCompleted(ctx context.Context, pool *pgxpool.Pool, jobs, retained int) error {
	var completed int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_queue WHERE status = 'completed'`).Scan(&completed); err != nil {
		return fmt.Errorf("bench queue: count: %w", err)
	}
	if completed != jobs+retained {
		return fmt.Errorf("bench queue: %d of %d rows completed", completed-retained, jobs)
	}
	return nil
}

// idleClaim returns the mean time, in ms, of a claim on the drained queue: first every
// lane the drain left due is found empty and put to sleep (a lap of claims), then 200
// claims are timed, each as /api/cron/sync or a poll makes it.
func idleClaim(ctx context.Context, q *queue.Queue, clients int) (float64, error) {
	const limit = 32
	for range clients/limit + 2 {
		if _, err := q.RunDue(ctx, limit); err != nil {
			return 0, fmt.Errorf("bench queue: idle claim: %w", err)
		}
	}
	const claims = 200
	start := time.Now()
	for range claims {
		res, err := q.RunDue(ctx, limit)
		if err != nil {
			return 0, fmt.Errorf("bench queue: idle claim: %w", err)
		}
		if res.Processed != 0 {
			return 0, fmt.Errorf("bench queue: idle claim ran %d rows", res.Processed)
		}
	}
	return float64(time.Since(start).Microseconds()) / 1000 / claims, nil
}

// seedQueue makes clients clients (a high rate limit each: the bench measures the engine,
// not the buckets), a tier each, a customer per 10 rows and the rows, spread evenly over the
// clients, enqueued 10 000 per statement as the expiration job does.
func seedQueue(ctx context.Context, pool *pgxpool.Pool, jobs, clients, retained int) error {
	type owner struct{ client, tier string }
	rows, err := pool.Query(ctx, `WITH c AS (
			INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute)
			SELECT 'Bench Winery ' || g, 'commerce7', 'bench-' || g, 100000 FROM generate_series(1, $1) g
			RETURNING id)
		INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, c7_club_id, c7_delivery_method)
		SELECT id, 'commerce7', 'Gold', 1, 12, gen_random_uuid()::text, 'Ship' FROM c
		RETURNING client_id, id`, clients)
	if err != nil {
		return fmt.Errorf("bench: seed clients: %w", err)
	}
	owners, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (owner, error) {
		var o owner
		return o, r.Scan(&o.client, &o.tier)
	})
	if err != nil {
		return fmt.Errorf("bench: seed clients: %w", err)
	}
	// Client k owns rows k, k+clients, k+2·clients…; each of its customers holds 10 of them.
	perClient := (jobs + clients - 1) / clients
	customers := make([][]string, clients)
	for k, o := range owners {
		n := max(1, (perClient+9)/10)
		rows, err := pool.Query(ctx, `INSERT INTO customers (client_id, email)
			SELECT $1, 'bench' || g || '@example.com' FROM generate_series(1, $2) g RETURNING id`, o.client, n)
		if err != nil {
			return fmt.Errorf("bench: seed customers: %w", err)
		}
		if customers[k], err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
			return fmt.Errorf("bench: seed customers: %w", err)
		}
	}
	if err := seedRetained(ctx, pool, retained); err != nil {
		return err
	}
	const perStatement = 10_000
	for done := 0; done < jobs; done += perStatement {
		batch := make([]queue.NewJob, min(perStatement, jobs-done))
		for i := range batch {
			n := done + i
			k := n % clients
			o, cs := owners[k], customers[k]
			customer := cs[(n/clients)%len(cs)]
			batch[i] = queue.NewJob{ClientID: o.client, CustomerID: customer, ActionType: queue.ActionCancel,
				TierID: o.tier, Priority: queue.PriorityLow, RateKey: o.client, OrderKey: customer}
		}
		err := db.InTx(ctx, pool, func(tx pgx.Tx) error {
			_, err := queue.Enqueue(ctx, tx, batch...)
			return err
		})
		if err != nil {
			return fmt.Errorf("bench: enqueue: %w", err)
		}
	}
	// Fresh statistics, as a live table would have, so the claim's plan is the real one.
	if _, err := pool.Exec(ctx, `ANALYZE crm_sync_queue`); err != nil {
		return fmt.Errorf("bench: analyze: %w", err)
	}
	// The seeding's WAL (1.5 GB for 5 million retained rows) would otherwise set off a
	// checkpoint in the middle of the timed drain, and measure the disk instead of the
	// claim: the first 5-million-row runs spread from 9 800 to 19 000 jobs/s. Only a
	// superuser (or pg_checkpoint) may; without the right the run goes on, noisier.
	if _, err := pool.Exec(ctx, `CHECKPOINT`); err != nil && !insufficientPrivilege(err) {
		return fmt.Errorf("bench: checkpoint: %w", err)
	}
	return nil
}

func insufficientPrivilege(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// seedRetained inserts n completed rows (add_membership, priority 0, so that they are told
// from the bench's rows), finished over the last 30 days, spread over the customers, 500 000
// a statement, then vacuums the table as autovacuum would have.
func seedRetained(ctx context.Context, pool *pgxpool.Pool, n int) error {
	const perStatement = 500_000
	for done := 0; done < n; done += perStatement {
		_, err := pool.Exec(ctx, `WITH owner AS (
				SELECT c.client_id, c.id AS customer_id, t.id AS tier_id,
				       row_number() OVER (ORDER BY c.id) - 1 AS n
				FROM customers c JOIN tiers t ON t.client_id = c.client_id)
			INSERT INTO crm_sync_queue (client_id, customer_id, action_type, tier_id, priority,
				status, attempts, last_attempt_at, completed_at, created_at, updated_at)
			SELECT o.client_id, o.customer_id, 'add_membership', o.tier_id, 0, 'completed', 1, d.at, d.at, d.at, d.at
			FROM generate_series(1, $1::int) g
			JOIN owner o ON o.n = g % (SELECT count(*) FROM owner)
			CROSS JOIN LATERAL (SELECT now() - (g % 43200) * interval '1 minute' AS at) d`, min(perStatement, n-done))
		if err != nil {
			return fmt.Errorf("bench: seed retained rows: %w", err)
		}
	}
	if n > 0 {
		if _, err := pool.Exec(ctx, `VACUUM crm_sync_queue`); err != nil {
			return fmt.Errorf("bench: vacuum: %w", err)
		}
	}
	return nil
}

func round(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
