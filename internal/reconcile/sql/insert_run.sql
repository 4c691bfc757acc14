-- insert_run starts the client's run; none when another job run is reconciling the client.
INSERT INTO reconcile_runs (job_run_id, client_id, dry_run)
VALUES (@job_run_id, @client_id, @dry_run)
ON CONFLICT (client_id) WHERE finished_at IS NULL DO NOTHING
RETURNING id, status, cursor, started_at
