-- One client. The clients_rate_bucket trigger makes its rate bucket (rate key = its id).
INSERT INTO clients (id, name, crm_type, tenant, rate_limit_per_minute, shopify_access_token_enc)
VALUES (@id, @name, @crm_type, @tenant, @rate_limit_per_minute, @shopify_access_token_enc)
