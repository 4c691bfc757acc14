-- orphans are the client runs left unfinished by a job run that is over: its process died
-- (resumed at once), or it stopped for a CRM that kept failing (resumed after its wait).
SELECT r.client_id::text, r.dry_run
FROM reconcile_runs r
JOIN job_runs j ON j.id = r.job_run_id
WHERE r.finished_at IS NULL AND j.status <> 'running' AND (r.resume_after IS NULL OR r.resume_after <= now())
