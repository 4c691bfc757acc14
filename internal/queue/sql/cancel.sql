-- cancel cancels pending or failed row @id, saying so in its error_message.
UPDATE crm_sync_queue q SET
    status        = 'cancelled',
    error_message = coalesce(q.error_message || '; ', '') || 'cancelled by an operator',
    updated_at    = coalesce(@now::timestamptz, now())
WHERE q.id = @id AND q.status IN ('pending', 'failed')
RETURNING q.id, q.client_id, q.customer_id, q.enrollment_id, q.action_type, q.tier_id, q.old_tier_id,
       q.customer_crm_id, q.status, q.priority, q.attempts, q.max_attempts, q.next_retry_at,
       q.last_attempt_at, q.locked_until, q.locked_by, q.error_message, q.created_at, q.updated_at, q.completed_at
