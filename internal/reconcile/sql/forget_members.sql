-- forget_members drops the listing's members of some CRM customers before their fresh
-- read is stored, and sets the differences about them aside until compared again.
WITH gone AS (
    DELETE FROM reconcile_crm_members
    WHERE reconcile_run_id = @run_id AND crm_customer_id = ANY (@crm_ids::text[])
)
UPDATE reconcile_differences
SET status = 'gone'
WHERE reconcile_run_id = @run_id AND status = 'found'
  AND (customer_id = ANY (@customer_ids::uuid[]) OR crm_customer_id = ANY (@crm_ids::text[]))
