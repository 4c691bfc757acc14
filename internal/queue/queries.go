package queue

// The SQL of the queue engine. $now is the injected clock (NULL: the database's now()),
// so tests can move time without sleeping; durations travel as milliseconds.

const qEnqueue = `
INSERT INTO crm_sync_queue (client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id,
                            customer_crm_id, priority, max_attempts)
SELECT client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id, customer_crm_id, priority, max_attempts
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], $7::text[], $8::smallint[], $9::int[])
     WITH ORDINALITY AS j(client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id, customer_crm_id,
                          priority, max_attempts, n)
ORDER BY n
RETURNING id`

const qNotify = `SELECT pg_notify($1, '')`

// claimSet turns the chosen rows into this worker's: processing, one more attempt, a
// lease. A row that has no attempt left (its earlier workers died mid-attempt, and the
// rescuer counted those attempts) is failed instead of run again.
const claimSet = `
UPDATE crm_sync_queue q SET
    status          = CASE WHEN q.attempts >= q.max_attempts THEN 'failed' ELSE 'processing' END,
    attempts        = CASE WHEN q.attempts >= q.max_attempts THEN q.attempts ELSE q.attempts + 1 END,
    locked_by       = CASE WHEN q.attempts >= q.max_attempts THEN NULL ELSE $2 END,
    locked_until    = CASE WHEN q.attempts >= q.max_attempts THEN NULL
                           ELSE coalesce($1::timestamptz, now()) + $3 * interval '1 millisecond' END,
    last_attempt_at = CASE WHEN q.attempts >= q.max_attempts THEN q.last_attempt_at
                           ELSE coalesce($1::timestamptz, now()) END,
    error_message   = CASE WHEN q.attempts >= q.max_attempts
                           THEN format('no attempts left: claimed after %s attempt(s) whose workers died mid-attempt', q.attempts)
                           ELSE q.error_message END,
    updated_at      = coalesce($1::timestamptz, now())
FROM chosen
WHERE q.id = chosen.id
RETURNING q.id, q.client_id, q.customer_id, q.enrollment_id, q.action_type, q.tier_id, q.old_tier_id,
          q.customer_crm_id, q.priority, q.attempts, q.max_attempts, q.created_at, q.status`

// qClaimDue claims up to $4 due rows, best priority first, then oldest. SKIP LOCKED lets
// any number of claimers on any number of replicas run at once without waiting on each other.
const qClaimDue = `
WITH chosen AS (
    SELECT id FROM crm_sync_queue
    WHERE status = 'pending' AND next_retry_at <= coalesce($1::timestamptz, now())
    ORDER BY priority DESC, id
    LIMIT $4
    FOR UPDATE SKIP LOCKED
)` + claimSet

// qClaimOne claims one pending row whatever its next_retry_at (an operator's "run now").
const qClaimOne = `
WITH chosen AS (
    SELECT id FROM crm_sync_queue
    WHERE id = $4 AND status = 'pending'
    FOR UPDATE SKIP LOCKED
)` + claimSet

const qStatus = `SELECT status FROM crm_sync_queue WHERE id = $1`

// qHeartbeat extends the leases this worker still holds; a row missing from the answer was
// taken from it (its lease lapsed and the rescuer handed it on), so its handler is stopped.
const qHeartbeat = `
UPDATE crm_sync_queue q
SET locked_until = coalesce($1::timestamptz, now()) + $2 * interval '1 millisecond'
FROM unnest($4::bigint[], $5::int[]) AS mine(id, attempts)
WHERE q.id = mine.id AND q.attempts = mine.attempts AND q.locked_by = $3 AND q.status = 'processing'
RETURNING q.id`

// qFinish writes a batch of outcomes and their attempt rows in one statement. The fence
// (locked_by, attempts, status) refuses the outcome of a worker whose row was rescued and
// claimed again meanwhile: only the current holder may decide a row's fate.
const qFinish = `
WITH o AS (
    SELECT * FROM unnest($2::bigint[], $3::int[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::int[],
                         $9::timestamptz[], $10::timestamptz[])
        AS o(id, attempt, status, outcome, retry_after_ms, error, http_status, started_at, finished_at)
), done AS (
    UPDATE crm_sync_queue q SET
        status        = o.status,
        -- throttled and released attempts are given back: they were not the row's fault
        attempts      = CASE WHEN o.outcome IN ('throttled', 'released') THEN q.attempts - 1 ELSE q.attempts END,
        next_retry_at = CASE WHEN o.status = 'pending'
                             THEN coalesce($11::timestamptz, now()) + o.retry_after_ms * interval '1 millisecond'
                             ELSE q.next_retry_at END,
        error_message = CASE o.outcome WHEN 'succeeded' THEN NULL WHEN 'released' THEN q.error_message
                                       ELSE o.error END,
        locked_by     = NULL,
        locked_until  = NULL,
        completed_at  = CASE WHEN o.status = 'completed' THEN o.finished_at END,
        updated_at    = o.finished_at
    FROM o
    WHERE q.id = o.id AND q.attempts = o.attempt AND q.locked_by = $1 AND q.status = 'processing'
    RETURNING q.id
), history AS (
    INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome, http_status, error)
    SELECT o.id, o.attempt, $1, o.started_at, o.finished_at, o.outcome, o.http_status, o.error
    FROM o JOIN done ON done.id = o.id
)
SELECT id FROM done`

// qRescue hands rows whose lease lapsed (their process died or hung) back to the queue.
// The lost attempt counts, so a row that keeps killing its workers runs out of attempts;
// it is recorded in the history as lease_expired.
const qRescue = `
WITH lapsed AS (
    SELECT id, locked_by, attempts, last_attempt_at FROM crm_sync_queue
    WHERE status = 'processing' AND locked_until < coalesce($1::timestamptz, now())
    ORDER BY locked_until
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), back AS (
    UPDATE crm_sync_queue q SET
        status        = 'pending',
        next_retry_at = coalesce($1::timestamptz, now()),
        error_message = format('lease expired: worker %s stopped answering during attempt %s', lapsed.locked_by, lapsed.attempts),
        locked_by     = NULL,
        locked_until  = NULL,
        updated_at    = coalesce($1::timestamptz, now())
    FROM lapsed
    WHERE q.id = lapsed.id
    RETURNING q.id
), history AS (
    INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome, error)
    SELECT l.id, l.attempts, l.locked_by, coalesce(l.last_attempt_at, coalesce($1::timestamptz, now())),
           coalesce($1::timestamptz, now()), 'lease_expired', 'lease expired: the worker stopped answering'
    FROM lapsed l JOIN back ON back.id = l.id
)
SELECT count(*) FROM back`

// qPrune deletes one batch of finished rows past retention (their attempts go by cascade).
// created_at < cutoff narrows the scan through the (status, created_at) index; updated_at
// is the real test (a row is kept for the retention period after it finished).
const qPrune = `
WITH doomed AS (
    SELECT id FROM crm_sync_queue
    WHERE status IN ('completed', 'cancelled') AND created_at < $1 AND updated_at < $1
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
DELETE FROM crm_sync_queue q USING doomed WHERE q.id = doomed.id`
