-- The client of a Commerce7 tenant or a Shopify shop domain, in any case.
SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy, currency, drift_policy
FROM clients
WHERE crm_type = @crm_type
  AND lower(tenant) = lower(@tenant)
