-- Claims a slot (a scheduled run's cron slot; a manual run's is the moment it was asked
-- for). No row comes back when another replica has the slot. The row's heartbeat starts
-- now; the process running it renews it (beat_runs.sql) until the run ends.
INSERT INTO job_runs (job_name, trigger, scheduled_for, runner, heartbeat_at)
VALUES (@job_name, @trigger, coalesce(@scheduled_for::timestamptz, clock_timestamp()), @runner, clock_timestamp())
ON CONFLICT (job_name, scheduled_for) DO NOTHING
RETURNING id
