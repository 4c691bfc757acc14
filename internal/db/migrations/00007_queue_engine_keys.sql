-- The queue engine's own keys (issue 17): the engine reads and writes only its tables
-- (crm_sync_queue, crm_sync_attempts, crm_rate_buckets). What it needs from the domain is
-- written on its rows when they are enqueued:
--   rate_key  — the rate bucket a row's requests draw from (today: the client's id);
--   order_key — rows with the same key apply one at a time, in id order (today: the
--               customer's id).
-- and each rate bucket carries its own rate (per_minute), set by the application when a
-- client's limit is set or changed, so the claim no longer reads clients.
--
-- Every column of the seeds (client_id, customer_id, enrollment_id, action_type, tier_id,
-- old_tier_id, customer_crm_id, status, attempts, …) stays, and so do their monitoring
-- queries; the expiration function, the coalescing trigger and process_crm_sync_queue are
-- untouched (they name none of the columns changed here).

-- +goose Up

ALTER TABLE crm_sync_queue ADD COLUMN rate_key text, ADD COLUMN order_key text;
UPDATE crm_sync_queue SET rate_key = client_id::text, order_key = customer_id::text;
ALTER TABLE crm_sync_queue
    ALTER COLUMN rate_key SET NOT NULL,
    ALTER COLUMN order_key SET NOT NULL,
    ADD CONSTRAINT crm_sync_queue_keys_not_blank CHECK (rate_key <> '' AND order_key <> '');

-- Inserters that do not know the engine's keys (the expiration function's bulk insert,
-- psql, pg_cron, the seeds' scripts) get today's mapping. The WHEN clause is evaluated
-- without calling the function, so the Go enqueue, which writes both keys, pays nothing.
-- +goose StatementBegin
CREATE FUNCTION crm_sync_queue_default_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.rate_key := coalesce(NEW.rate_key, NEW.client_id::text);
    NEW.order_key := coalesce(NEW.order_key, NEW.customer_id::text);
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER crm_sync_queue_default_keys
    BEFORE INSERT ON crm_sync_queue
    FOR EACH ROW WHEN (NEW.rate_key IS NULL OR NEW.order_key IS NULL)
    EXECUTE FUNCTION crm_sync_queue_default_keys();

-- The claim's two indexes, on the engine's keys instead of client_id and customer_id (same
-- shape, so the same plans: the claim walks buckets and takes each one's pending rows,
-- best priority first, then oldest; "has this order key an earlier unfinished row?").
CREATE INDEX crm_sync_queue_claim_key_idx ON crm_sync_queue (rate_key, priority DESC, id)
    INCLUDE (next_retry_at, order_key) WHERE status = 'pending';
CREATE INDEX crm_sync_queue_order_open_idx ON crm_sync_queue (order_key, id)
    WHERE status IN ('pending', 'processing');
-- Nothing else reads the old ones, and every status change writes every index of the row.
DROP INDEX crm_sync_queue_claim_idx;
DROP INDEX crm_sync_queue_customer_open_idx;

-- Rate buckets keyed by rate key, each with its own rate.
ALTER TABLE crm_rate_buckets ADD COLUMN rate_key text, ADD COLUMN per_minute integer;
UPDATE crm_rate_buckets b SET rate_key = b.client_id::text, per_minute = c.rate_limit_per_minute
FROM clients c WHERE c.id = b.client_id;
ALTER TABLE crm_rate_buckets DROP COLUMN client_id; -- drops its primary key and foreign key
ALTER TABLE crm_rate_buckets
    ALTER COLUMN rate_key SET NOT NULL,
    ALTER COLUMN per_minute SET NOT NULL,
    ADD CONSTRAINT crm_rate_buckets_pkey PRIMARY KEY (rate_key),
    ADD CONSTRAINT crm_rate_buckets_per_minute CHECK (per_minute > 0);
-- Every client gets its bucket, full (as a client without a bucket row had before).
INSERT INTO crm_rate_buckets (rate_key, per_minute, tokens, refilled_at)
SELECT id::text, rate_limit_per_minute, greatest(1.0, rate_limit_per_minute / 60.0), now() FROM clients
ON CONFLICT (rate_key) DO NOTHING;

-- The application sets a client's rate through the engine (queue.SetRate) when it creates
-- or changes the client; this trigger keeps the same promise for every other writer of
-- clients (psql, scripts, tests that insert clients directly): a client always has a
-- bucket at its current rate, and loses it when it is deleted. The engine never reads
-- clients; the schema hands the rate over.
-- +goose StatementBegin
CREATE FUNCTION clients_rate_bucket() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM crm_rate_buckets WHERE rate_key = OLD.id::text;
        RETURN NULL;
    END IF;
    INSERT INTO crm_rate_buckets (rate_key, per_minute, tokens, refilled_at)
    VALUES (NEW.id::text, NEW.rate_limit_per_minute, greatest(1.0, NEW.rate_limit_per_minute / 60.0), now())
    ON CONFLICT (rate_key) DO UPDATE SET per_minute = EXCLUDED.per_minute
    WHERE crm_rate_buckets.per_minute IS DISTINCT FROM EXCLUDED.per_minute;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER clients_rate_bucket
    AFTER INSERT OR DELETE OR UPDATE OF rate_limit_per_minute ON clients
    FOR EACH ROW EXECUTE FUNCTION clients_rate_bucket();

-- +goose Down
DROP TRIGGER clients_rate_bucket ON clients;
DROP FUNCTION clients_rate_bucket();

-- Buckets back to one per client; a bucket of another key has no place there.
DELETE FROM crm_rate_buckets b WHERE NOT EXISTS (SELECT 1 FROM clients c WHERE c.id::text = b.rate_key);
ALTER TABLE crm_rate_buckets ADD COLUMN client_id uuid;
UPDATE crm_rate_buckets SET client_id = rate_key::uuid;
ALTER TABLE crm_rate_buckets DROP CONSTRAINT crm_rate_buckets_pkey;
ALTER TABLE crm_rate_buckets DROP COLUMN rate_key, DROP COLUMN per_minute;
ALTER TABLE crm_rate_buckets
    ALTER COLUMN client_id SET NOT NULL,
    ADD CONSTRAINT crm_rate_buckets_pkey PRIMARY KEY (client_id),
    ADD CONSTRAINT crm_rate_buckets_client_id_fkey FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE;

CREATE INDEX crm_sync_queue_claim_idx ON crm_sync_queue (client_id, priority DESC, id)
    INCLUDE (next_retry_at, customer_id) WHERE status = 'pending';
CREATE INDEX crm_sync_queue_customer_open_idx ON crm_sync_queue (customer_id, id)
    WHERE status IN ('pending', 'processing');
DROP INDEX crm_sync_queue_order_open_idx;
DROP INDEX crm_sync_queue_claim_key_idx;
DROP TRIGGER crm_sync_queue_default_keys ON crm_sync_queue;
DROP FUNCTION crm_sync_queue_default_keys();
ALTER TABLE crm_sync_queue DROP CONSTRAINT crm_sync_queue_keys_not_blank;
ALTER TABLE crm_sync_queue DROP COLUMN order_key, DROP COLUMN rate_key;
