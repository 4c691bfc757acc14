-- report_differences pages through a job run's differences (not those that vanished on
-- their confirming read), in id order after @after.
SELECT d.id, r.client_id::text, d.kind, d.repair, d.status, d.customer_id::text, cu.email, d.crm_customer_id,
       d.enrollment_id::text, d.tier_id::text, t.name, d.crm_tier_id::text, ct.name, d.membership_id, d.detail, d.queue_id,
       d.repaired_at
FROM reconcile_differences d
JOIN reconcile_runs r ON r.id = d.reconcile_run_id
LEFT JOIN customers cu ON cu.id = d.customer_id
LEFT JOIN tiers t ON t.id = d.tier_id
LEFT JOIN tiers ct ON ct.id = d.crm_tier_id
WHERE r.job_run_id = @job_run_id AND d.id > @after AND d.status IN ('confirmed', 'repaired', 'skipped')
  AND (@client_id::uuid IS NULL OR r.client_id = @client_id::uuid)
  AND (@kind::text IS NULL OR d.kind = @kind)
ORDER BY d.id
LIMIT @limit
