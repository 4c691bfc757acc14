-- by_shop is the connection of a shop (webhooks, the install callback).
SELECT client_id, shop, auth, app_client_id, app_client_secret_enc, access_token_enc,
       access_expires_at, access_renew_at, refresh_token_enc, refresh_expires_at, coalesce(scopes, ''),
       webhook_secret_enc, state, coalesce(state_error, ''), state_changed_at
FROM shopify_connections
WHERE shop = @shop
