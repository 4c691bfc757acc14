-- adopt_webhook_secret lists the token connections that have no webhook secret yet
-- (made before per-client secrets, when SHOPIFY_WEBHOOK_SECRET signed every shop).
SELECT client_id
FROM shopify_connections
WHERE auth = 'token' AND webhook_secret_enc IS NULL
