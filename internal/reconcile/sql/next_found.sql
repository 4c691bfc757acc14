-- next_found is the run's next difference to confirm, and our customer's CRM id. Those
-- of CRM customers we do not know go first: their email may show them to be customers of
-- ours under another CRM id, which changes what the others' differences are.
SELECT d.id, d.kind, d.customer_id::text, coalesce(d.crm_customer_id, ''), coalesce(c.crm_id, '')
FROM reconcile_differences d
LEFT JOIN customers c ON c.id = d.customer_id
WHERE d.reconcile_run_id = @run_id AND d.status = 'found'
ORDER BY d.customer_id IS NULL DESC, d.id
LIMIT 1
