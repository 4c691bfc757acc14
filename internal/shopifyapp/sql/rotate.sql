-- rotate replaces a connection's credentials (PATCH /api/clients/{id}), in the transaction
-- that updates the client: every column is what Rotate computed from the locked row, so
-- the statement never mixes a new way with an old way's secrets.
UPDATE shopify_connections
SET auth                  = @auth,
    app_client_id         = @app_client_id,
    app_client_secret_enc = @app_client_secret_enc,
    access_token_enc      = @access_token_enc,
    access_expires_at     = @access_expires_at,
    access_renew_at       = @access_renew_at,
    refresh_token_enc     = @refresh_token_enc,
    refresh_expires_at    = @refresh_expires_at,
    scopes                = @scopes,
    webhook_secret_enc    = @webhook_secret_enc,
    state                 = @state,
    state_error           = @state_error,
    state_changed_at      = CASE WHEN state = @state THEN state_changed_at ELSE @now END,
    updated_at            = @now
WHERE client_id = @client_id
