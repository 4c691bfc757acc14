-- save_tokens stores a token request's answer: the connection is connected again.
UPDATE shopify_connections
SET access_token_enc   = @access_token_enc,
    access_expires_at  = @access_expires_at,
    access_renew_at    = @access_renew_at,
    refresh_token_enc  = coalesce(@refresh_token_enc, refresh_token_enc),
    refresh_expires_at = CASE WHEN @refresh_token_enc::bytea IS NULL THEN refresh_expires_at ELSE @refresh_expires_at END,
    scopes             = coalesce(@scopes, scopes),
    state              = 'connected',
    state_error        = NULL,
    state_changed_at   = CASE WHEN state = 'connected' THEN state_changed_at ELSE @now END,
    updated_at         = @now
WHERE client_id = @client_id
