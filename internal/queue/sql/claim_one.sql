-- claim_one claims pending row @id whatever its next_retry_at (an operator's "run now").
WITH chosen AS (
    SELECT id FROM crm_sync_queue
    WHERE id = @id AND status = 'pending'
    FOR UPDATE SKIP LOCKED
)
-- claim set: the chosen rows become this worker's: processing, one more attempt, a lease.
-- A row with no attempt left (its earlier workers died mid-attempt, and the rescuer
-- counted those attempts) is failed instead of run again. claim_due.sql has the same
-- statement (TestStatementsAgree).
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
