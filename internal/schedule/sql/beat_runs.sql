-- Renews the heartbeat of this process's running runs. A run another replica has already
-- failed as dead (its heartbeat went stale: this process stalled) is left failed; its
-- finish still records the real outcome.
UPDATE job_runs
SET heartbeat_at = clock_timestamp()
WHERE id = ANY (@ids::bigint[])
  AND status = 'running'
