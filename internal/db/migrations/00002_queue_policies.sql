-- Queue policies (issue 4): per-client rate limits shared by every replica, fair claims,
-- and coalescing of an add and its cancel.

-- +goose Up

-- One token bucket per client. Tokens refill continuously at rate_limit_per_minute/60 per
-- second up to a burst of one second's worth (at least 1), so no 60-second window ever sees
-- more than rate + rate/60 requests, whatever the CRM's own window. paused_until is set when
-- the CRM answers 429/THROTTLED: the client alone waits, the others keep flowing. A client
-- with no row yet has a full bucket.
CREATE TABLE crm_rate_buckets (
    client_id     uuid PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    tokens        double precision NOT NULL CHECK (tokens >= 0),
    refilled_at   timestamptz NOT NULL,
    paused_until  timestamptz
);
ALTER TABLE crm_rate_buckets SET (fillfactor = 50);

-- Coalescing: a cancel_membership enqueued while its enrollment's add_membership is still
-- pending and was never attempted makes both pointless; both become 'cancelled', each
-- naming the other. A statement-level trigger decides it in the enqueuing transaction for
-- every inserter (the Go enqueue, the expiration function's bulk insert, psql) with one
-- set-based statement however many rows were inserted. The add is locked by the UPDATE; a
-- claimer that got there first has made it 'processing', and then nothing coalesces.
-- +goose StatementBegin
CREATE FUNCTION crm_sync_queue_coalesce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH cancels AS (
        SELECT id, enrollment_id FROM new_rows
        WHERE action_type = 'cancel_membership' AND enrollment_id IS NOT NULL AND status = 'pending'
    ), adds AS (
        UPDATE crm_sync_queue q
        SET status = 'cancelled', error_message = 'superseded by #' || c.id, updated_at = now()
        FROM cancels c
        WHERE q.enrollment_id = c.enrollment_id
          AND q.action_type = 'add_membership'
          AND q.status = 'pending'
          AND q.last_attempt_at IS NULL
        RETURNING q.id AS add_id, c.id AS cancel_id
    )
    UPDATE crm_sync_queue q
    SET status = 'cancelled', error_message = 'superseded by #' || a.add_id, updated_at = now()
    FROM adds a
    WHERE q.id = a.cancel_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER crm_sync_queue_coalesce
    AFTER INSERT ON crm_sync_queue
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION crm_sync_queue_coalesce();

-- +goose Down
DROP TRIGGER crm_sync_queue_coalesce ON crm_sync_queue;
DROP FUNCTION crm_sync_queue_coalesce();
DROP TABLE crm_rate_buckets;
