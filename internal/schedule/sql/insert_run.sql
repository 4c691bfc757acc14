-- Claims a slot (a scheduled run's cron slot; a manual run's is the moment it was asked
-- for) and takes the run's advisory lock in the same statement, so that no other replica
-- can see the row running without its lock. The lock's keys are a namespace
-- (db.LockNamespaceJobRuns) and the run id (within int4; ids wrap only after two billion
-- runs). No row comes back when another replica has the slot.
WITH run AS (
    INSERT INTO job_runs (job_name, trigger, scheduled_for, runner)
    VALUES (@job_name, @trigger, coalesce(@scheduled_for::timestamptz, clock_timestamp()), @runner)
    ON CONFLICT (job_name, scheduled_for) DO NOTHING
    RETURNING id
)
SELECT id
FROM run
WHERE pg_advisory_lock(@lock_namespace::int, (id % 2147483647)::int) IS NOT NULL
