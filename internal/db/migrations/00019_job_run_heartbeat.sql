-- A running job run proves its process alive with a heartbeat on its row (issue 21), in
-- place of a session advisory lock: a transaction pooler (PgBouncer in transaction mode)
-- hands a session to another client after every transaction, so a session lock is held
-- by whichever client happens to have the server connection, and its release may run on
-- another. The scheduler of every replica fails the runs whose heartbeat is stale. The
-- partial index keeps that sweep on the few running rows however long the history grows.
-- +goose Up
ALTER TABLE job_runs ADD COLUMN heartbeat_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX job_runs_running_idx ON job_runs (heartbeat_at) WHERE status = 'running';

-- +goose Down
DROP INDEX job_runs_running_idx;
ALTER TABLE job_runs DROP COLUMN heartbeat_at;
