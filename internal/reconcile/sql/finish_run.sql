-- finish_run ends the client's run and returns its differences by kind (the confirmed
-- ones: found in the listing and still there on the customer's own read).
WITH fin AS (
    UPDATE reconcile_runs
    SET status = @status, error = @error, finished_at = now()
    WHERE id = @run_id AND finished_at IS NULL
)
SELECT d.kind, count(*), count(*) FILTER (WHERE d.status = 'repaired')
FROM reconcile_differences d
WHERE d.reconcile_run_id = @run_id AND d.status IN ('confirmed', 'repaired', 'skipped')
GROUP BY d.kind
