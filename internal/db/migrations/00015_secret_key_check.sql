-- The key check (issue 20): one row holding HMAC-SHA256(TIERSYNC_SECRET_KEY, a fixed
-- label), written by the first `serve` and compared by every later one, so a replica
-- started with another key refuses to start instead of failing every sealed credential
-- it opens (Shopify tokens and secrets) one request at a time. It holds no secret: the
-- HMAC of a public label does not reveal the key. Owned by internal/shopifyapp, which
-- seals and opens every stored credential.
-- +goose Up
CREATE TABLE secret_key_check (
    -- One row: the key of the deployment.
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    check_value bytea NOT NULL CHECK (length(check_value) = 32),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE secret_key_check;
