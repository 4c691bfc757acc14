-- Changes made in Commerce7 flow back, and orders as they really come (issue 18).
--
-- 1. A club membership created or cancelled in Commerce7 (a Club Membership webhook)
--    makes or ends an enrollment: its source, and the cause of its history line, is 'crm'.
-- 2. A refund is an order of its own in Commerce7 (its help: "you will always see two
--    Order numbers for Refunded transactions"), so a refund is an orders row of kind
--    'refund' whose total is negative (the amount paid back); lifetime value is the sum
--    of a customer's paid sales and refunds, never below 0.
-- 3. An order cancelled or deleted in Commerce7 is voided (voided_at): it leaves lifetime
--    value, and a void is final (a later Update of the order does not bring it back).
--    A tier already granted stays until it expires: neither refunds nor voids end an
--    enrollment.

-- +goose Up

ALTER TABLE enrollments DROP CONSTRAINT enrollments_source_check,
    ADD CONSTRAINT enrollments_source_check CHECK (source IN ('api', 'order', 'cli', 'crm'));

ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_cause_check,
    ADD CONSTRAINT enrollment_events_cause_check
        CHECK (cause IN ('api', 'order', 'expiration', 'cli', 'admin', 'crm'));

-- A Club Membership webhook finds our enrollment by the CRM's membership id, within the
-- webhook's client: one lookup per webhook, which without this index reads every
-- enrollment of the client. Not unique: an id the CRM reused, or a row written around the
-- application, must not make a webhook fail.
CREATE INDEX enrollments_crm_membership_idx ON enrollments (client_id, crm_membership_id)
    WHERE crm_membership_id IS NOT NULL;

ALTER TABLE orders
    ADD COLUMN kind text NOT NULL DEFAULT 'sale' CHECK (kind IN ('sale', 'refund')),
    -- The CRM order id of the order a refund pays back, when the refund names it: a
    -- refund of a voided order is not subtracted twice.
    ADD COLUMN refund_of text CHECK (refund_of IS NULL OR btrim(refund_of) <> ''),
    ADD COLUMN voided_at timestamptz,
    DROP CONSTRAINT orders_total_cents_check,
    ADD CONSTRAINT orders_total_sign CHECK ((kind = 'sale' AND total_cents >= 0) OR (kind = 'refund' AND total_cents <= 0)),
    ADD CONSTRAINT orders_refund_of_refunds_only CHECK (refund_of IS NULL OR kind = 'refund');

-- +goose Down
ALTER TABLE orders
    DROP CONSTRAINT orders_refund_of_refunds_only,
    DROP CONSTRAINT orders_total_sign;
DELETE FROM orders WHERE kind = 'refund';
ALTER TABLE orders
    ADD CONSTRAINT orders_total_cents_check CHECK (total_cents >= 0),
    DROP COLUMN voided_at,
    DROP COLUMN refund_of,
    DROP COLUMN kind;

DROP INDEX enrollments_crm_membership_idx;

DELETE FROM enrollment_events WHERE cause = 'crm';
ALTER TABLE enrollment_events DROP CONSTRAINT enrollment_events_cause_check,
    ADD CONSTRAINT enrollment_events_cause_check
        CHECK (cause IN ('api', 'order', 'expiration', 'cli', 'admin'));

UPDATE enrollments SET source = 'api' WHERE source = 'crm';
ALTER TABLE enrollments DROP CONSTRAINT enrollments_source_check,
    ADD CONSTRAINT enrollments_source_check CHECK (source IN ('api', 'order', 'cli'));
