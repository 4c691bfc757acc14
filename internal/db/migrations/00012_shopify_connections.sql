-- A Shopify client's connection (issue 19): how tiersync gets the shop's access token
-- (shopify_auth), what that way needs, every secret sealed (AES-256-GCM, the client's id as
-- additional data, as the token was before), the token's expiry, and the connection's
-- state. Its own table, owned by internal/shopifyapp, so that the token refresh (a row lock
-- held across one HTTP call) never locks the client row that enrollments read.
--
--   client_credentials  the winery's own Dev Dashboard app: app_client_id + its secret;
--                       24 h tokens from the client credentials grant.
--   oauth               the one app of this deployment (SHOPIFY_APP_CLIENT_ID/_SECRET)
--                       installed by the merchant: expiring access tokens and a rotating
--                       refresh token. No tokens until the install's callback.
--   token               a legacy custom app's permanent token and its webhook secret.
--
-- Existing Shopify clients become `token` connections with the token they had. Their
-- webhook secret was the global SHOPIFY_WEBHOOK_SECRET: the row's webhook_secret_enc stays
-- null until `serve` seals that variable into it at start (docs/operations.md, upgrade).
-- +goose Up
CREATE TABLE shopify_connections (
    client_id              uuid PRIMARY KEY,
    -- Only a Shopify client has a connection (the composite key, as tiers do it).
    crm_type               text NOT NULL DEFAULT 'shopify' CHECK (crm_type = 'shopify'),
    shop                   text NOT NULL UNIQUE CHECK (shop ~ '^[a-z0-9][a-z0-9-]{0,99}\.myshopify\.com$'),
    auth                   text NOT NULL CHECK (auth IN ('client_credentials', 'oauth', 'token')),
    app_client_id          text CHECK (app_client_id IS NULL OR btrim(app_client_id) <> ''),
    app_client_secret_enc  bytea,
    access_token_enc       bytea,
    access_expires_at      timestamptz, -- null: the token does not expire
    -- when to ask for the next token: a fifth of the token's life before it ends, at most
    -- five minutes before (a 24 h token: 23h55; a 60 min one: 55 min)
    access_renew_at        timestamptz,
    refresh_token_enc      bytea,
    refresh_expires_at     timestamptz,
    scopes                 text,
    webhook_secret_enc     bytea,
    -- connected: calls go out; refresh_failing: the last token request failed (state_error
    -- says why), the client's rows wait; uninstalled: the app was removed from the shop,
    -- tokens deleted, rows held until a reinstall; pending: an oauth client made before
    -- the merchant installed the app.
    state                  text NOT NULL DEFAULT 'connected'
                           CHECK (state IN ('connected', 'refresh_failing', 'uninstalled', 'pending')),
    state_error            text,
    state_changed_at       timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shopify_connections_client FOREIGN KEY (client_id, crm_type) REFERENCES clients (id, crm_type) ON DELETE CASCADE,
    CONSTRAINT shopify_connections_client_credentials CHECK (auth <> 'client_credentials'
        OR (app_client_id IS NOT NULL AND app_client_secret_enc IS NOT NULL)),
    CONSTRAINT shopify_connections_token CHECK (auth <> 'token' OR access_token_enc IS NOT NULL),
    CONSTRAINT shopify_connections_only_token_has_webhook_secret CHECK (auth = 'token' OR webhook_secret_enc IS NULL),
    CONSTRAINT shopify_connections_expiry CHECK (access_token_enc IS NOT NULL OR access_expires_at IS NULL),
    CONSTRAINT shopify_connections_renewal CHECK ((access_expires_at IS NULL) = (access_renew_at IS NULL)),
    CONSTRAINT shopify_connections_uninstalled_has_no_tokens CHECK (state <> 'uninstalled'
        OR (access_token_enc IS NULL AND refresh_token_enc IS NULL) OR auth = 'token')
);

INSERT INTO shopify_connections (client_id, shop, auth, access_token_enc)
SELECT id, lower(tenant), 'token', shopify_access_token_enc
FROM clients
WHERE crm_type = 'shopify';

ALTER TABLE clients DROP CONSTRAINT clients_shopify_needs_token;
ALTER TABLE clients DROP COLUMN shopify_access_token_enc;

-- +goose Down
ALTER TABLE clients ADD COLUMN shopify_access_token_enc bytea;
UPDATE clients c SET shopify_access_token_enc = s.access_token_enc
FROM shopify_connections s WHERE s.client_id = c.id;
DROP TABLE shopify_connections;
ALTER TABLE clients ADD CONSTRAINT clients_shopify_needs_token
    CHECK (crm_type <> 'shopify' OR shopify_access_token_enc IS NOT NULL);
