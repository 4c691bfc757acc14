-- A new client. A Commerce7 client carries its webhook credentials from its first
-- version (the password only as its SHA-256); a Shopify client carries its sealed token.
INSERT INTO clients (id, name, crm_type, tenant, rate_limit_per_minute, shopify_access_token_enc,
                     webhook_user, webhook_password_hash)
VALUES (@id, @name, @crm_type, @tenant, @rate_limit_per_minute, @shopify_access_token_enc,
        @webhook_user, @webhook_password_hash)
RETURNING id, name, crm_type, tenant, rate_limit_per_minute, created_at, webhook_password_hash IS NULL AS webhook_legacy
