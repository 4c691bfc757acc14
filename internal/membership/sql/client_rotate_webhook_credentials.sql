-- Replaces a Commerce7 client's webhook credentials: the old pair stops working at commit.
-- A legacy client (no credentials yet) gets its first, and stops accepting the global pair.
UPDATE clients
SET webhook_user          = @webhook_user,
    webhook_password_hash = @webhook_password_hash,
    updated_at            = now()
WHERE id = @id
  AND crm_type = 'commerce7'
RETURNING id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy, currency, drift_policy
