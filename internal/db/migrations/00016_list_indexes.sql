-- Indexes for the operator's lists (issue 20): GET /api/enrollments and /api/customers and
-- the admin members list page newest first, by client or across all of them, and look a
-- customer up by email without a client. Without them each page sorts every enrollment or
-- customer of the filter. The per-client enrollments index leads with client_id, so it
-- also serves the foreign key, and the older single-column index goes.
-- Size and locks: as 00008 says, plain CREATE INDEX in goose's transaction blocks writes
-- to the table while it builds; a large deployment builds them beforehand with CREATE
-- INDEX CONCURRENTLY under the same names (IF NOT EXISTS makes this migration a no-op then).
-- +goose Up
CREATE INDEX IF NOT EXISTS enrollments_client_newest_idx ON enrollments (client_id, enrolled_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS enrollments_newest_idx ON enrollments (enrolled_at DESC, id DESC);
DROP INDEX IF EXISTS enrollments_client_idx;
CREATE INDEX IF NOT EXISTS customers_client_newest_idx ON customers (client_id, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS customers_email_idx ON customers (lower(email));

-- +goose Down
DROP INDEX IF EXISTS customers_email_idx;
DROP INDEX IF EXISTS customers_client_newest_idx;
CREATE INDEX IF NOT EXISTS enrollments_client_idx ON enrollments (client_id);
DROP INDEX IF EXISTS enrollments_newest_idx;
DROP INDEX IF EXISTS enrollments_client_newest_idx;
