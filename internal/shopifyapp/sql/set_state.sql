-- set_state records a connection's state and why (refresh_failing, pending).
UPDATE shopify_connections
SET state            = @state,
    state_error      = @state_error,
    state_changed_at = CASE WHEN state = @state THEN state_changed_at ELSE @now END,
    updated_at       = @now
WHERE client_id = @client_id
