-- list_states is every connection's state, for the admin page and the alerts.
SELECT client_id, shop, auth, state, coalesce(state_error, ''), state_changed_at, access_expires_at
FROM shopify_connections
ORDER BY shop
