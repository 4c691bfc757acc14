-- latest_runs is each client's newest reconcile run (the admin page's list).
SELECT DISTINCT ON (r.client_id) r.client_id::text, r.job_run_id, r.id, r.dry_run, r.status, r.finished_at,
       (SELECT count(*) FROM reconcile_differences d WHERE d.reconcile_run_id = r.id AND d.status IN ('confirmed', 'repaired', 'skipped')),
       (SELECT count(*) FROM reconcile_differences d WHERE d.reconcile_run_id = r.id AND d.status = 'confirmed')
FROM reconcile_runs r
WHERE @client_id::uuid IS NULL OR r.client_id = @client_id::uuid
ORDER BY r.client_id, r.id DESC
