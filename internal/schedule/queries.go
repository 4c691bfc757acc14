package schedule

// qInsertRun claims a slot (a scheduled run's cron slot; a manual run's is the moment it
// was asked for) and takes the run's advisory lock in the same statement, so no other
// replica can see the row running without its lock. The key is a constant namespace and
// the run id (within int4; ids wrap only after two billion runs).
const qInsertRun = `
WITH run AS (
    INSERT INTO job_runs (job_name, trigger, scheduled_for, runner)
    VALUES ($1, $2, coalesce($3::timestamptz, clock_timestamp()), $4)
    ON CONFLICT (job_name, scheduled_for) DO NOTHING
    RETURNING id
)
SELECT id FROM run WHERE pg_advisory_lock(74737, (id % 2147483647)::int) IS NOT NULL`

const qUnlockRun = `SELECT pg_advisory_unlock(74737, ($1 % 2147483647)::int)`

const runColumns = `id, job_name, trigger, scheduled_for, started_at, finished_at, status, result, error`

const qFinishRun = `
UPDATE job_runs SET status = $2, result = $3, error = $4, finished_at = clock_timestamp()
WHERE id = $1
RETURNING ` + runColumns

// qRecoverRuns fails the running runs whose advisory lock nobody holds: their process
// died (or its connection did, which ends the run's guarantees just the same). Taking the
// lock proves it free; it is released at once.
const qRecoverRuns = `
WITH free AS (
    SELECT id FROM job_runs
    WHERE status = 'running' AND pg_try_advisory_lock(74737, (id % 2147483647)::int)
), released AS (
    SELECT id, pg_advisory_unlock(74737, (id % 2147483647)::int) FROM free
)
UPDATE job_runs j SET status = 'failed', finished_at = clock_timestamp(),
       error = format('the process running it (%s) stopped before the run finished', coalesce(j.runner, 'unknown'))
FROM released r
WHERE j.id = r.id`

const qLastRun = `
SELECT ` + runColumns + ` FROM job_runs WHERE job_name = $1 ORDER BY started_at DESC, id DESC LIMIT 1`

const qRuns = `
SELECT ` + runColumns + ` FROM job_runs ORDER BY started_at DESC, id DESC LIMIT $1`
