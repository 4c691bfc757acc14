-- Indexes under the foreign keys that had none (issue 17).
--
-- PostgreSQL indexes the referenced side of a foreign key (its primary or unique key),
-- never the referencing side. Without an index there, deleting or re-keying a referenced
-- row (a tier, an order, a job run, a customer) scans the whole referencing table once per
-- row, under lock; ON DELETE CASCADE from a client multiplies that by its customers. The
-- list came from pg_constraint and pg_index (TestForeignKeysAreIndexed keeps it complete).
-- Nullable columns that are mostly NULL get partial indexes (WHERE … IS NOT NULL): a
-- foreign-key check looks up one non-null value, which such an index answers, at a
-- fraction of the size.
--
-- Size and locks: plain CREATE INDEX inside goose's transaction blocks writes to each
-- table while it builds, which takes moments at today's sizes. A large deployment would
-- instead build them one by one with CREATE INDEX CONCURRENTLY, in a migration that
-- goose runs outside a transaction (its NO TRANSACTION annotation; CONCURRENTLY cannot
-- run in one, and a failed build leaves an INVALID index to drop and retry), or create
-- them by hand beforehand with the same names and IF NOT EXISTS here.
--
-- crm_sync_queue's client_id and customer_id keys stay unindexed on purpose: the queue is
-- the hot table (every status change writes every index of the row), nothing deletes
-- clients or customers today, and the engine reads its own keys (migration 00007). See
-- TestForeignKeysAreIndexed.

-- +goose Up

-- crm_sync_queue → tiers (NO ACTION): a tier cannot be deleted without this scan.
CREATE INDEX crm_sync_queue_tier_idx ON crm_sync_queue (tier_id);
CREATE INDEX crm_sync_queue_old_tier_idx ON crm_sync_queue (old_tier_id) WHERE old_tier_id IS NOT NULL;

-- enrollment_events → tiers, orders, job_runs (job_runs: ON DELETE SET NULL, so pruning
-- old runs would rewrite events by a scan each).
CREATE INDEX enrollment_events_old_tier_idx ON enrollment_events (old_tier_id) WHERE old_tier_id IS NOT NULL;
CREATE INDEX enrollment_events_new_tier_idx ON enrollment_events (new_tier_id) WHERE new_tier_id IS NOT NULL;
CREATE INDEX enrollment_events_order_idx ON enrollment_events (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX enrollment_events_job_run_idx ON enrollment_events (job_run_id) WHERE job_run_id IS NOT NULL;

-- enrollments → orders, customers, clients. The customer's only index was the partial
-- "one active enrollment" one, which a check of all of a customer's enrollments cannot use.
CREATE INDEX enrollments_qualifying_order_idx ON enrollments (qualifying_order_id) WHERE qualifying_order_id IS NOT NULL;
CREATE INDEX enrollments_customer_idx ON enrollments (customer_id);
CREATE INDEX enrollments_client_idx ON enrollments (client_id);

-- customers → tiers.
CREATE INDEX customers_current_tier_idx ON customers (current_tier_id) WHERE current_tier_id IS NOT NULL;

-- orders → customers. The old index covered paid orders only, which a foreign-key check
-- cannot rely on; every stored order is paid today, so the full index costs the same and
-- still serves the lifetime-value sum (customer_id = … AND paid_at IS NOT NULL).
CREATE INDEX orders_customer_idx ON orders (customer_id);
DROP INDEX orders_customer_paid_idx;

-- +goose Down
CREATE INDEX orders_customer_paid_idx ON orders (customer_id) WHERE paid_at IS NOT NULL;
DROP INDEX orders_customer_idx;
DROP INDEX customers_current_tier_idx;
DROP INDEX enrollments_client_idx;
DROP INDEX enrollments_customer_idx;
DROP INDEX enrollments_qualifying_order_idx;
DROP INDEX enrollment_events_job_run_idx;
DROP INDEX enrollment_events_order_idx;
DROP INDEX enrollment_events_new_tier_idx;
DROP INDEX enrollment_events_old_tier_idx;
DROP INDEX crm_sync_queue_old_tier_idx;
DROP INDEX crm_sync_queue_tier_idx;
