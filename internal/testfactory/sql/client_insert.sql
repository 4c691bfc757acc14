-- One client. The clients_rate_bucket trigger makes its rate bucket (rate key = its id); a
-- Shopify client gets its `token` connection (shopify_connections) with it.
WITH client AS (
    INSERT INTO clients (id, name, crm_type, tenant, rate_limit_per_minute)
    VALUES (@id, @name, @crm_type, @tenant, @rate_limit_per_minute)
    RETURNING id, crm_type, tenant
)
INSERT INTO shopify_connections (client_id, shop, auth, access_token_enc, webhook_secret_enc)
SELECT id, tenant, 'token', @access_token_enc, @webhook_secret_enc
FROM client
WHERE crm_type = 'shopify'
