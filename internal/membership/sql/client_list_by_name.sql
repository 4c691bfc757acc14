-- Every client, by name (the admin page's dashboard lists them all).
SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy, currency, drift_policy
FROM clients
ORDER BY name, id
