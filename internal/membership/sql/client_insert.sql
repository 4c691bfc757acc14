INSERT INTO clients (id, name, crm_type, tenant, rate_limit_per_minute, shopify_access_token_enc)
VALUES (@id, @name, @crm_type, @tenant, @rate_limit_per_minute, @shopify_access_token_enc)
RETURNING id, name, crm_type, tenant, rate_limit_per_minute, created_at
