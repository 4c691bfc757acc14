-- The connection alerts (internal/alert): a Shopify connection that turns refresh_failing
-- or uninstalled is reported once per state change, whatever the alert interval. One row
-- per connection remembers the state change last reported (its state and when it began,
-- as shopify_connections says it); a row of its own per client, since alert_deliveries
-- keeps one row per kind of alert. Owned by internal/alert, which reads the connections'
-- states through shopifyapp, never from shopify_connections.
-- +goose Up
CREATE TABLE alert_connection_deliveries (
    client_id        uuid PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    state            text NOT NULL,
    state_changed_at timestamptz NOT NULL,
    delivered_at     timestamptz NOT NULL
);

-- +goose Down
DROP TABLE alert_connection_deliveries;
