-- Records how a run ended.
UPDATE job_runs
SET status      = @status,
    result      = @result,
    error       = @error,
    finished_at = clock_timestamp()
WHERE id = @id
RETURNING id, job_name, trigger, scheduled_for, started_at, finished_at, status, result, error
