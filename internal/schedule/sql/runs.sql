-- The newest runs of every job.
SELECT id, job_name, trigger, scheduled_for, started_at, finished_at, status, result, error
FROM job_runs
ORDER BY started_at DESC, id DESC
LIMIT @limit
