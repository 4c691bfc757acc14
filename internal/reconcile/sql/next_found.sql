-- next_found is the run's first difference not yet confirmed, and our customer's CRM id.
SELECT d.id, d.kind, d.customer_id::text, coalesce(d.crm_customer_id, ''), coalesce(c.crm_id, '')
FROM reconcile_differences d
LEFT JOIN customers c ON c.id = d.customer_id
WHERE d.reconcile_run_id = @run_id AND d.status = 'found'
ORDER BY d.id
LIMIT 1
