-- any_sealed is one connection's sealed secret, whichever it has, to prove a key against
-- before its check value is first stored.
SELECT client_id::text, coalesce(access_token_enc, app_client_secret_enc, refresh_token_enc, webhook_secret_enc)
FROM shopify_connections
WHERE coalesce(access_token_enc, app_client_secret_enc, refresh_token_enc, webhook_secret_enc) IS NOT NULL
ORDER BY client_id
LIMIT 1
