SELECT id, name, crm_type, tenant, rate_limit_per_minute, created_at
FROM clients
WHERE id = @id
