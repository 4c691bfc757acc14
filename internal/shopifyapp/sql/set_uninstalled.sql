-- set_uninstalled records that the app was removed from the shop: its tokens are deleted
-- (Shopify revoked them; a static token is kept, for the operator to see it replaced), and
-- the client's rows wait for a reinstall.
UPDATE shopify_connections
SET access_token_enc   = CASE WHEN auth = 'token' THEN access_token_enc END,
    access_expires_at  = NULL,
    access_renew_at    = NULL,
    refresh_token_enc  = NULL,
    refresh_expires_at = NULL,
    state              = 'uninstalled',
    state_error        = NULL,
    state_changed_at   = CASE WHEN state = 'uninstalled' THEN state_changed_at ELSE @now END,
    updated_at         = @now
WHERE client_id = @client_id
