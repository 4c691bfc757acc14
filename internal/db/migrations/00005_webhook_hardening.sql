-- Webhook hardening (issue 16): a second dedupe key taken from the signed body, and the
-- owner of each Shopify order id.

-- +goose Up

-- The order's own version (Shopify: order id, updated_at and financial_status from the
-- signed body). X-Shopify-Event-Id is a header the signature does not cover, so a replay
-- of a captured body under a new event id must still be a duplicate: it is one order
-- version per client. NULL for Commerce7, whose external_id is already built from the body.
ALTER TABLE webhook_events
    ADD COLUMN order_version text CHECK (order_version IS NULL OR btrim(order_version) <> '');
CREATE UNIQUE INDEX webhook_events_order_version_key
    ON webhook_events (client_id, provider, order_version) WHERE order_version IS NOT NULL;

-- Shopify order ids are unique across all shops. With one app secret for every shop the
-- signature cannot tell shops apart, so the first client an order id was seen under owns
-- it, and the same signed body sent with another X-Shopify-Shop-Domain is refused.
CREATE TABLE webhook_order_owners (
    provider      text NOT NULL CHECK (provider IN ('shopify')),
    crm_order_id  text NOT NULL CHECK (btrim(crm_order_id) <> ''),
    client_id     uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, crm_order_id)
);
CREATE INDEX webhook_order_owners_client_idx ON webhook_order_owners (client_id);

-- +goose Down
DROP TABLE webhook_order_owners;
DROP INDEX webhook_events_order_version_key;
ALTER TABLE webhook_events DROP COLUMN order_version;
