-- dry_run_confirmed locks a finished dry run's confirmed differences of one client, to
-- repair them now ("repair these").
SELECT d.id, d.kind, d.repair, d.customer_id::text, coalesce(d.crm_customer_id, ''), d.enrollment_id::text,
       d.tier_id::text, d.crm_tier_id::text, d.membership_id,
       (SELECT m.email FROM reconcile_crm_members m
        WHERE m.reconcile_run_id = d.reconcile_run_id AND m.crm_customer_id = d.crm_customer_id AND m.email IS NOT NULL LIMIT 1)
FROM reconcile_differences d
JOIN reconcile_runs r ON r.id = d.reconcile_run_id
WHERE r.job_run_id = @job_run_id AND r.client_id = @client_id AND r.dry_run AND r.status = 'done'
  AND d.status = 'confirmed'
ORDER BY d.id
FOR UPDATE OF d
