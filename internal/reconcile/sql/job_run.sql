-- job_run reads a reconcile job run.
SELECT id, status, trigger, started_at, finished_at, result, error
FROM job_runs
WHERE id = @id AND job_name = 'reconcile-memberships'
