-- A new client. A Commerce7 client carries its webhook credentials from its first
-- version (the password only as its SHA-256).
INSERT INTO clients (name, crm_type, tenant, rate_limit_per_minute, webhook_user, webhook_password_hash, currency, drift_policy)
VALUES (@name, @crm_type, @tenant, @rate_limit_per_minute, @webhook_user, @webhook_password_hash, @currency, @drift_policy)
RETURNING id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy, currency, drift_policy
