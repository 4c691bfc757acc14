-- An enrollment with its latest queue row (crm_sync_queue is the queue's table: this
-- read-only look at a row's id and status is the API's "sync" field).
SELECT e.id, e.status, e.client_id, e.tier_id, e.customer_id, e.enrolled_at, e.expires_at, e.crm_membership_id,
       q.id, q.status
FROM enrollments e
LEFT JOIN LATERAL (
    SELECT id, status
    FROM crm_sync_queue
    WHERE enrollment_id = e.id
    ORDER BY id DESC
    LIMIT 1
) q ON true
WHERE e.id = @id
