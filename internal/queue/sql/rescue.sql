-- rescue hands up to @limit rows whose lease lapsed (their process died or hung) back to
-- the queue. The lost attempt counts, so a row that keeps killing its workers runs out of
-- attempts; it is recorded in the history as lease_expired.
WITH lapsed AS (
    SELECT id, locked_by, attempts, last_attempt_at FROM crm_sync_queue
    WHERE status = 'processing' AND locked_until < coalesce(@now::timestamptz, now())
    ORDER BY locked_until
    LIMIT @limit
    FOR UPDATE SKIP LOCKED
), back AS (
    UPDATE crm_sync_queue q SET
        status        = 'pending',
        next_retry_at = coalesce(@now::timestamptz, now()),
        error_message = format('lease expired: worker %s stopped answering during attempt %s', lapsed.locked_by, lapsed.attempts),
        locked_by     = NULL,
        locked_until  = NULL,
        updated_at    = coalesce(@now::timestamptz, now())
    FROM lapsed
    WHERE q.id = lapsed.id
    RETURNING q.id
), history AS (
    INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome, error)
    SELECT l.id, l.attempts, l.locked_by, coalesce(l.last_attempt_at, coalesce(@now::timestamptz, now())),
           coalesce(@now::timestamptz, now()), 'lease_expired', 'lease expired: the worker stopped answering'
    FROM lapsed l JOIN back ON back.id = l.id
)
SELECT count(*) FROM back
