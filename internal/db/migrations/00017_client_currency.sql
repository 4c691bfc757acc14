-- A client's currency (issue 20): the ISO 4217 code its tiers' thresholds and its
-- customers' lifetime values are in, so the admin page shows "$50.00" or "CA$50.00" as the
-- winery counts. Existing clients are USD, which every amount so far assumed. Enrollments
-- made from the admin page's form record the source "admin".
-- +goose Up
ALTER TABLE clients ADD COLUMN currency text NOT NULL DEFAULT 'USD'
    CONSTRAINT clients_currency_check CHECK (currency ~ '^[A-Z]{3}$');
ALTER TABLE enrollments DROP CONSTRAINT enrollments_source_check;
ALTER TABLE enrollments ADD CONSTRAINT enrollments_source_check
    CHECK (source = ANY (ARRAY['api', 'order', 'cli', 'crm', 'admin']));

-- +goose Down
ALTER TABLE enrollments DROP CONSTRAINT enrollments_source_check;
UPDATE enrollments SET source = 'api' WHERE source = 'admin';
ALTER TABLE enrollments ADD CONSTRAINT enrollments_source_check
    CHECK (source = ANY (ARRAY['api', 'order', 'cli', 'crm']));
ALTER TABLE clients DROP COLUMN currency;
