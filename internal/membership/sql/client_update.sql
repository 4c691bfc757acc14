-- Changes a client's name, rate limit, currency and drift policy (PATCH /api/clients/{id}); a field not sent (NULL)
-- keeps its value. The row lock it takes holds until the transaction that rotates the
-- client's credentials with it commits.
UPDATE clients
SET name                  = coalesce(@name, name),
    rate_limit_per_minute = coalesce(@rate_limit_per_minute, rate_limit_per_minute),
    currency              = coalesce(@currency, currency),
    drift_policy          = coalesce(@drift_policy, drift_policy),
    updated_at            = now()
WHERE id = @id
RETURNING id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy, currency, drift_policy
