-- Operations (issue 9): the seeds' queue function for psql and pg_cron users, and the
-- alerts' memory shared by every replica.

-- +goose Up

-- process_crm_sync_queue keeps the seeds' name: the HTTP calls stay in Go, so it wakes
-- the workers (NOTIFY, delivered at commit) and reports what the queue holds: rows due
-- now, rows being processed, failed rows.
-- +goose StatementBegin
CREATE FUNCTION process_crm_sync_queue()
RETURNS TABLE (due bigint, processing bigint, failed bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tiersync_queue', '');
    RETURN QUERY
    SELECT count(*) FILTER (WHERE status = 'pending' AND next_retry_at <= now()),
           count(*) FILTER (WHERE status = 'processing'),
           count(*) FILTER (WHERE status = 'failed')
    FROM crm_sync_queue
    WHERE status IN ('pending', 'processing', 'failed');
END
$$;
-- +goose StatementEnd

-- When each kind of alert was last delivered, so that every replica's checks share one
-- rate limit (an alert goes out at most once per ALERT_INTERVAL, whoever checks).
CREATE TABLE alert_deliveries (
    kind          text PRIMARY KEY CHECK (kind IN ('failed_rows', 'pending_age')),
    delivered_at  timestamptz NOT NULL,
    -- For failed_rows: the newest failed row already reported, so each alert tells of new ones.
    last_failed_at timestamptz
);

-- +goose Down
DROP TABLE alert_deliveries;
DROP FUNCTION process_crm_sync_queue();
