-- A batch of crm_sync_queue rows, described as a JSON array, inserted in the array's order
-- (n) so that their ids follow it. The client is the customer's unless given; rate_key and
-- order_key, when not given, are the client's and the customer's ids, as the engine's own
-- enqueue writes them (written here, so the per-row default-keys trigger need not fire:
-- 100 000-row backlogs are built this way). A
-- completed row was completed now, a processing row is leased to "testfactory" for five
-- minutes, unless told otherwise.
INSERT INTO crm_sync_queue (client_id, customer_id, enrollment_id, action_type, tier_id, old_tier_id,
                            customer_crm_id, status, priority, attempts, max_attempts, next_retry_at,
                            last_attempt_at, locked_until, locked_by, error_message,
                            created_at, updated_at, completed_at, rate_key, order_key)
SELECT coalesce(r.client_id, cu.client_id),
       r.customer_id, r.enrollment_id, r.action_type, r.tier_id, r.old_tier_id,
       r.customer_crm_id, r.status, r.priority, r.attempts, r.max_attempts, coalesce(r.next_retry_at, now()),
       r.last_attempt_at,
       coalesce(r.locked_until, CASE WHEN r.status = 'processing' THEN now() + interval '5 minutes' END),
       coalesce(r.locked_by, CASE WHEN r.status = 'processing' THEN 'testfactory' END),
       r.error_message,
       coalesce(r.created_at, now()), coalesce(r.updated_at, now()),
       coalesce(r.completed_at, CASE WHEN r.status = 'completed' THEN now() END),
       coalesce(r.rate_key, coalesce(r.client_id, cu.client_id)::text), coalesce(r.order_key, r.customer_id::text)
FROM jsonb_to_recordset(@rows::jsonb) AS r(n int, client_id uuid, customer_id uuid, enrollment_id uuid,
                                           action_type text, tier_id uuid, old_tier_id uuid,
                                           customer_crm_id text, status text, priority smallint,
                                           attempts int, max_attempts int, next_retry_at timestamptz,
                                           last_attempt_at timestamptz, locked_until timestamptz,
                                           locked_by text, error_message text, created_at timestamptz,
                                           updated_at timestamptz, completed_at timestamptz,
                                           rate_key text, order_key text)
LEFT JOIN customers cu ON cu.id = r.customer_id
ORDER BY r.n
RETURNING id
