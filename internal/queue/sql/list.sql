-- list is one page of the rows matching the filter, newest first, before cursor @before.
SELECT q.id, q.client_id, q.customer_id, q.enrollment_id, q.action_type, q.tier_id, q.old_tier_id,
       q.customer_crm_id, q.status, q.priority, q.attempts, q.max_attempts, q.next_retry_at,
       q.last_attempt_at, q.locked_until, q.locked_by, q.error_message, q.created_at, q.updated_at, q.completed_at
FROM crm_sync_queue q
WHERE (@before::bigint IS NULL OR q.id < @before::bigint)
-- filter: NULL means any; an empty @customer_ids matches nothing.
  AND (@status::text IS NULL OR q.status = @status::text)
  AND (@action_type::text IS NULL OR q.action_type = @action_type::text)
  AND (@client_id::uuid IS NULL OR q.client_id = @client_id::uuid)
  AND (@customer_ids::uuid[] IS NULL OR q.customer_id = ANY (@customer_ids::uuid[]))
ORDER BY q.id DESC
LIMIT @limit
