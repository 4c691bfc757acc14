-- A Shopify client's sealed Admin API token (null for Commerce7 clients).
SELECT shopify_access_token_enc
FROM clients
WHERE id = @id
