-- Fails the running runs whose heartbeat is older than @stale_seconds: their process died,
-- or lost the database for that long, which ends the run's guarantees just the same.
UPDATE job_runs
SET status      = 'failed',
    finished_at = clock_timestamp(),
    error       = format('the process running it (%s) stopped before the run finished: no heartbeat since %s',
                         coalesce(runner, 'unknown'), heartbeat_at)
WHERE status = 'running'
  AND heartbeat_at < clock_timestamp() - make_interval(secs => @stale_seconds::float8)
