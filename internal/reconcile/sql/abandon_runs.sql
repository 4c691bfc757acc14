-- abandon_runs fails the client's unfinished run of the other kind (dry or not) whose job
-- run is over: a dry run does not resume as a repairing one, nor the reverse.
UPDATE reconcile_runs r
SET status = 'failed', finished_at = now(), error = 'abandoned: a run of the other kind (dry or not) started'
FROM job_runs j
WHERE r.client_id = @client_id AND r.finished_at IS NULL AND r.dry_run <> @dry_run
  AND j.id = r.job_run_id AND j.status <> 'running'
