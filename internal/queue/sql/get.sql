-- get is one row as operators see it.
SELECT q.id, q.client_id, q.customer_id, q.enrollment_id, q.action_type, q.tier_id, q.old_tier_id,
       q.customer_crm_id, q.status, q.priority, q.attempts, q.max_attempts, q.next_retry_at,
       q.last_attempt_at, q.locked_until, q.locked_by, q.error_message, q.created_at, q.updated_at, q.completed_at
FROM crm_sync_queue q
WHERE q.id = @id
