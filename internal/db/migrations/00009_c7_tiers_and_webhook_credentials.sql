-- Commerce7 as it really is (issue 18): Pickup tiers name their pickup location, and each
-- Commerce7 client has webhook credentials of its own.

-- +goose Up

-- A Pickup membership is picked up somewhere: Commerce7 takes the location as
-- pickupInventoryLocationId. The API requires it on new Pickup tiers; the database only
-- refuses it where it means nothing (Ship tiers, Shopify tiers), so that Pickup tiers made
-- before this migration stay valid rows until an operator gives them their location.
ALTER TABLE tiers
    ADD COLUMN c7_pickup_location_id text
        CHECK (c7_pickup_location_id IS NULL OR btrim(c7_pickup_location_id) <> ''),
    ADD CONSTRAINT tiers_pickup_location_only_for_pickup
        CHECK (c7_pickup_location_id IS NULL OR c7_delivery_method = 'Pickup');

-- The Basic auth pair a winery pastes into Commerce7's webhook settings. The user name is
-- not a secret; the password is 256 random bits, stored as its SHA-256 (a slow hash buys
-- nothing against a password nobody can guess; the plain password is shown once, when
-- made). Clients made before this migration have neither (NULL): their webhooks are still
-- authenticated with the global COMMERCE7_WEBHOOK_USER/_PASSWORD until their credentials
-- are rotated. Shopify clients never have them (Shopify signs its webhooks).
ALTER TABLE clients
    ADD COLUMN webhook_user text CHECK (webhook_user IS NULL OR btrim(webhook_user) <> ''),
    ADD COLUMN webhook_password_hash bytea CHECK (webhook_password_hash IS NULL OR octet_length(webhook_password_hash) = 32),
    ADD CONSTRAINT clients_webhook_credentials_whole
        CHECK ((webhook_user IS NULL) = (webhook_password_hash IS NULL)),
    ADD CONSTRAINT clients_webhook_credentials_commerce7
        CHECK (webhook_password_hash IS NULL OR crm_type = 'commerce7');

-- +goose Down
ALTER TABLE clients
    DROP CONSTRAINT clients_webhook_credentials_commerce7,
    DROP CONSTRAINT clients_webhook_credentials_whole,
    DROP COLUMN webhook_password_hash,
    DROP COLUMN webhook_user;
ALTER TABLE tiers
    DROP CONSTRAINT tiers_pickup_location_only_for_pickup,
    DROP COLUMN c7_pickup_location_id;
