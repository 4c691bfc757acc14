-- finish writes a batch of outcomes and their attempt rows in one statement. The fence
-- (locked_by, attempts, status) refuses the outcome of a worker whose row was rescued and
-- claimed again meanwhile: only the current holder may decide a row's fate.
WITH o AS (
    SELECT * FROM unnest(@ids::bigint[], @attempts::int[], @statuses::text[], @outcomes::text[],
                         @retry_after_ms::bigint[], @errors::text[], @http_statuses::int[],
                         @started_at::timestamptz[], @finished_at::timestamptz[])
        AS o(id, attempt, status, outcome, retry_after_ms, error, http_status, started_at, finished_at)
), done AS (
    UPDATE crm_sync_queue q SET
        status        = o.status,
        -- throttled and released attempts are given back: they were not the row's fault
        attempts      = CASE WHEN o.outcome IN ('throttled', 'released') THEN q.attempts - 1 ELSE q.attempts END,
        next_retry_at = CASE WHEN o.status = 'pending'
                             THEN coalesce(@now::timestamptz, now()) + o.retry_after_ms * interval '1 millisecond'
                             ELSE q.next_retry_at END,
        error_message = CASE o.outcome WHEN 'succeeded' THEN NULL WHEN 'released' THEN q.error_message
                                       ELSE o.error END,
        locked_by     = NULL,
        locked_until  = NULL,
        completed_at  = CASE WHEN o.status = 'completed' THEN o.finished_at END,
        updated_at    = o.finished_at
    FROM o
    WHERE q.id = o.id AND q.attempts = o.attempt AND q.locked_by = @worker AND q.status = 'processing'
    RETURNING q.id
), history AS (
    INSERT INTO crm_sync_attempts (queue_id, attempt, worker, started_at, finished_at, outcome, http_status, error)
    SELECT o.id, o.attempt, @worker, o.started_at, o.finished_at, o.outcome, o.http_status, o.error
    FROM o JOIN done ON done.id = o.id
)
SELECT id FROM done
