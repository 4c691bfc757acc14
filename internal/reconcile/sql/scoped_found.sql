-- scoped_found lists the differences of some customers that the fresh read confirmed,
-- with what their repair needs.
SELECT d.id, d.kind, d.repair, d.customer_id::text, coalesce(d.crm_customer_id, ''), d.enrollment_id::text,
       d.tier_id::text, d.crm_tier_id::text, d.membership_id,
       (SELECT m.email FROM reconcile_crm_members m
        WHERE m.reconcile_run_id = d.reconcile_run_id AND m.crm_customer_id = d.crm_customer_id AND m.email IS NOT NULL LIMIT 1)
FROM reconcile_differences d
WHERE d.reconcile_run_id = @run_id AND d.status = 'found'
  AND (d.customer_id = ANY (@customer_ids::uuid[]) OR d.crm_customer_id = ANY (@crm_ids::text[]))
ORDER BY d.id
