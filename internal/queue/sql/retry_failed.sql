-- retry_failed makes every failed row matching the filter due now (see retry.sql for the
-- attempts rule; list.sql has the same filter).
UPDATE crm_sync_queue q SET
    status        = 'pending',
    next_retry_at = coalesce(@now::timestamptz, now()),
    attempts      = CASE WHEN @reset::boolean THEN 0 ELSE q.attempts END,
    max_attempts  = CASE WHEN @reset::boolean THEN q.max_attempts ELSE greatest(q.max_attempts, q.attempts + 1) END,
    updated_at    = coalesce(@now::timestamptz, now())
WHERE q.status = 'failed'
-- filter: NULL means any; an empty @customer_ids matches nothing.
  AND (@status::text IS NULL OR q.status = @status::text)
  AND (@action_type::text IS NULL OR q.action_type = @action_type::text)
  AND (@client_id::uuid IS NULL OR q.client_id = @client_id::uuid)
  AND (@customer_ids::uuid[] IS NULL OR q.customer_id = ANY (@customer_ids::uuid[]))
