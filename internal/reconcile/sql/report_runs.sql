-- report_runs lists a job run's client runs with their differences by kind.
SELECT r.id, r.client_id::text, c.name, r.dry_run, r.status, r.pages, r.listed, r.started_at, r.finished_at, r.error,
       coalesce((SELECT jsonb_object_agg(k.kind, k.n)
                 FROM (SELECT d.kind, count(*) AS n FROM reconcile_differences d
                       WHERE d.reconcile_run_id = r.id AND d.status IN ('confirmed', 'repaired', 'skipped')
                       GROUP BY d.kind) k), '{}'::jsonb),
       (SELECT count(*) FROM reconcile_differences d WHERE d.reconcile_run_id = r.id AND d.status = 'repaired'),
       (SELECT count(*) FROM reconcile_differences d WHERE d.reconcile_run_id = r.id AND d.status = 'confirmed')
FROM reconcile_runs r
JOIN clients c ON c.id = r.client_id
WHERE r.job_run_id = @job_run_id AND (@client_id::uuid IS NULL OR r.client_id = @client_id::uuid)
ORDER BY c.name, r.id
