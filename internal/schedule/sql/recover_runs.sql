-- Fails the running runs whose advisory lock nobody holds: their process died (or its
-- connection did, which ends the run's guarantees just the same). Taking the lock proves
-- it free; it is released at once.
WITH free AS (
    SELECT id
    FROM job_runs
    WHERE status = 'running'
      AND pg_try_advisory_lock(@lock_namespace::int, (id % 2147483647)::int)
), released AS (
    SELECT id, pg_advisory_unlock(@lock_namespace::int, (id % 2147483647)::int)
    FROM free
)
UPDATE job_runs j
SET status      = 'failed',
    finished_at = clock_timestamp(),
    error       = format('the process running it (%s) stopped before the run finished', coalesce(j.runner, 'unknown'))
FROM released r
WHERE j.id = r.id
