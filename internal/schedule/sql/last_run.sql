-- A job's newest run.
SELECT id, job_name, trigger, scheduled_for, started_at, finished_at, status, result, error
FROM job_runs
WHERE job_name = @job_name
ORDER BY started_at DESC, id DESC
LIMIT 1
