-- finish_run ends the client's run and returns its differences by kind (the confirmed
-- ones: found in the listing and still there on the customer's own read). What the
-- listing returned goes, but for the CRM customers of a difference ("repair these" may
-- need the email it gave): a big client's listing is 100 000 rows a week, of no use once
-- compared.
WITH fin AS (
    UPDATE reconcile_runs
    SET status = @status, error = @error, finished_at = now()
    WHERE id = @run_id AND finished_at IS NULL
), listing AS (
    DELETE FROM reconcile_crm_members m
    WHERE m.reconcile_run_id = @run_id
      AND NOT EXISTS (SELECT 1 FROM reconcile_differences d
                      WHERE d.reconcile_run_id = @run_id AND d.crm_customer_id = m.crm_customer_id)
)
SELECT d.kind, count(*), count(*) FILTER (WHERE d.status = 'repaired')
FROM reconcile_differences d
WHERE d.reconcile_run_id = @run_id AND d.status IN ('confirmed', 'repaired', 'skipped')
GROUP BY d.kind
