-- A client's reconcile run stopped by a CRM that kept failing waits before the sweep
-- resumes it: without a wait, a CRM down for a day would start a run every sweep (every
-- five minutes), each failing after its retries. A run left by a dead process has no
-- wait: the next sweep resumes it.
-- +goose Up
ALTER TABLE reconcile_runs ADD COLUMN resume_after timestamptz;

-- +goose Down
ALTER TABLE reconcile_runs DROP COLUMN resume_after;
