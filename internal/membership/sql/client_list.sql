-- One page of clients, oldest first; the cursor is the previous page's last
-- (created_at, id), or null for the first page.
SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy, currency, drift_policy
FROM clients
WHERE @after_created_at::timestamptz IS NULL
   OR (created_at, id) > (@after_created_at::timestamptz, @after_id::uuid)
ORDER BY created_at, id
LIMIT @limit
