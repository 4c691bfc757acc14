-- claim_due claims up to @limit due rows, fairly:
--   - rate keys whose bucket is empty or paused are skipped, and no key gets more rows
--     than it has tokens (each row needs at least one request);
--   - within a key, rows run best priority first, then oldest; a row waits while an
--     earlier row of its order key is pending (even in backoff) or processing, so one
--     customer's changes apply one at a time in order;
--   - across keys, priority first, then round-robin: every key's first row comes before
--     any key's second, so one client's backlog cannot hold another's new row back by
--     more than one claim.
-- SKIP LOCKED lets any number of claimers on any number of replicas run at once.
-- The inner LIMIT must stay the plain parameter: a LIMIT computed per key (its tokens)
-- hides the row goal from the planner, which then sorts every pending row instead of
-- walking the index (measured: 13 000 → 1 100 jobs/s); the token cap is applied outside.
-- @now is the injected clock (NULL: the database's now()); durations travel in ms.
WITH budget AS (
    -- Each bucket's tokens now (refilled at crm_rate_refill_per_sec, up to crm_rate_burst:
    -- migration 00011 defines both) and whether it is paused.
    SELECT b.rate_key,
           least(crm_rate_burst(b.per_minute),
                 b.tokens + greatest(0, extract(epoch FROM coalesce(@now::timestamptz, now()) - b.refilled_at))
                            * crm_rate_refill_per_sec(b.per_minute)) AS available,
           coalesce(b.paused_until > coalesce(@now::timestamptz, now()), false) AS paused
    FROM crm_rate_buckets b
), candidates AS (
    SELECT j.id, j.priority, budget.available,
           row_number() OVER (PARTITION BY budget.rate_key ORDER BY j.priority DESC, j.id) AS turn
    FROM budget
    CROSS JOIN LATERAL (
        SELECT q.id, q.priority
        FROM crm_sync_queue q
        WHERE q.rate_key = budget.rate_key
          AND q.status = 'pending'
          AND q.next_retry_at <= coalesce(@now::timestamptz, now())
          AND NOT EXISTS (SELECT 1 FROM crm_sync_queue e
                          WHERE e.order_key = q.order_key AND e.id < q.id
                            AND e.status IN ('pending', 'processing'))
        ORDER BY q.priority DESC, q.id
        LIMIT @limit
        FOR UPDATE OF q SKIP LOCKED
    ) j
    WHERE NOT budget.paused AND budget.available >= 1
), chosen AS (
    SELECT id FROM candidates
    WHERE turn <= floor(available)
    ORDER BY priority DESC, turn, id
    LIMIT @limit
)
-- claim set: the chosen rows become this worker's: processing, one more attempt, a lease.
-- A row with no attempt left (its earlier workers died mid-attempt, and the rescuer
-- counted those attempts) is failed instead of run again. claim_one.sql has the same
-- statement from here on (TestStatementsAgree).
UPDATE crm_sync_queue q SET
    status          = CASE WHEN q.attempts >= q.max_attempts THEN 'failed' ELSE 'processing' END,
    attempts        = CASE WHEN q.attempts >= q.max_attempts THEN q.attempts ELSE q.attempts + 1 END,
    locked_by       = CASE WHEN q.attempts >= q.max_attempts THEN NULL ELSE @worker END,
    locked_until    = CASE WHEN q.attempts >= q.max_attempts THEN NULL
                           ELSE coalesce(@now::timestamptz, now()) + @lease_ms * interval '1 millisecond' END,
    last_attempt_at = CASE WHEN q.attempts >= q.max_attempts THEN q.last_attempt_at
                           ELSE coalesce(@now::timestamptz, now()) END,
    error_message   = CASE WHEN q.attempts >= q.max_attempts
                           THEN format('no attempts left: claimed after %s attempt(s) whose workers died mid-attempt', q.attempts)
                           ELSE q.error_message END,
    updated_at      = coalesce(@now::timestamptz, now())
FROM chosen
WHERE q.id = chosen.id
RETURNING q.id, q.action_type, q.rate_key, q.order_key, q.priority, q.attempts, q.max_attempts, q.created_at, q.status
