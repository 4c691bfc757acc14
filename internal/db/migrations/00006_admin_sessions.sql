-- Admin sessions (issue 16): a logged-out cookie must stop working.

-- +goose Up

-- One row per live admin page session, made at login and deleted at logout. The cookie
-- stays MACed (a forged or expired cookie is refused without a query), and a cookie is
-- only good while its row is here: an allow-list, so that a lost delete, a restored
-- backup or an emptied table all err towards logging out, never towards letting in.
-- Every replica reads the same table, so a logout on one ends the session on all.
-- id is the SHA-256 of the cookie's nonce: a read of this table yields no cookie.
CREATE TABLE admin_sessions (
    id          bytea PRIMARY KEY CHECK (length(id) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- +goose Down
DROP TABLE admin_sessions;
