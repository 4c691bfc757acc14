-- retry makes pending or failed row @id due now. Without @reset, a row that used up its
-- attempts gets one more (max_attempts grows), or the claim would fail it untried; with
-- it, the row gets all its attempts back. retry_failed.sql has the same SET
-- (TestStatementsAgree).
UPDATE crm_sync_queue q SET
    status        = 'pending',
    next_retry_at = coalesce(@now::timestamptz, now()),
    attempts      = CASE WHEN @reset::boolean THEN 0 ELSE q.attempts END,
    max_attempts  = CASE WHEN @reset::boolean THEN q.max_attempts ELSE greatest(q.max_attempts, q.attempts + 1) END,
    updated_at    = coalesce(@now::timestamptz, now())
WHERE q.id = @id AND q.status IN ('pending', 'failed')
RETURNING q.id, q.client_id, q.customer_id, q.enrollment_id, q.action_type, q.tier_id, q.old_tier_id,
       q.customer_crm_id, q.status, q.priority, q.attempts, q.max_attempts, q.next_retry_at,
       q.last_attempt_at, q.locked_until, q.locked_by, q.error_message, q.created_at, q.updated_at, q.completed_at
