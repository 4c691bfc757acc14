-- A Commerce7 client's webhook user and the SHA-256 of its webhook password (both null for
-- a client made before per-client credentials, whose webhooks use the global pair). No
-- row: no such Commerce7 client.
SELECT webhook_user, webhook_password_hash
FROM clients
WHERE id = @id
  AND crm_type = 'commerce7'
