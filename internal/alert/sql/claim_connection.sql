-- Claims the report of a connection's state change: a row back means it was not reported
-- yet. Inside the transaction that delivers the alert: a failed delivery rolls it back
-- (tried again at the next check), and a replica checking at the same time waits on the
-- row and then finds it reported.
INSERT INTO alert_connection_deliveries (client_id, state, state_changed_at, delivered_at)
VALUES (@client_id, @state, @state_changed_at, @delivered_at)
ON CONFLICT (client_id) DO UPDATE
SET state            = EXCLUDED.state,
    state_changed_at = EXCLUDED.state_changed_at,
    delivered_at     = EXCLUDED.delivered_at
WHERE alert_connection_deliveries.state <> EXCLUDED.state
   OR alert_connection_deliveries.state_changed_at <> EXCLUDED.state_changed_at
RETURNING client_id
