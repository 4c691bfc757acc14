-- adopt_run moves the client's unfinished run, whose job run is over (its process died),
-- to @job_run_id: the new job run resumes it where it stopped, whatever wait it had (a
-- run asked for now, or the weekly one, goes now).
UPDATE reconcile_runs r
SET job_run_id = @job_run_id, resume_after = NULL
FROM job_runs j
WHERE r.client_id = @client_id AND r.finished_at IS NULL AND r.dry_run = @dry_run
  AND j.id = r.job_run_id AND (j.status <> 'running' OR j.id = @job_run_id)
RETURNING r.id, r.status, r.cursor, r.started_at
