-- list_states_of is the state of the given clients' connections (a page of GET /api/clients,
-- one client's answer).
SELECT client_id, shop, auth, state, coalesce(state_error, ''), state_changed_at, access_expires_at
FROM shopify_connections
WHERE client_id = ANY (@client_ids::uuid[])
ORDER BY shop
