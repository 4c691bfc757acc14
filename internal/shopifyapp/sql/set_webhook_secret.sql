-- set_webhook_secret seals a token connection's webhook secret, unless it has one (a
-- concurrent start adopting the same legacy secret writes it once).
UPDATE shopify_connections
SET webhook_secret_enc = @webhook_secret_enc, updated_at = @now
WHERE client_id = @client_id AND auth = 'token' AND webhook_secret_enc IS NULL
