package schedule

import _ "embed" // the queries below

// The scheduler owns job_runs, and this package alone reads or writes it. Its SQL lives
// in sql/, one file per statement named after what it does: each file reads (and runs in
// psql) as plain SQL with named parameters (@name, bound with pgx.StrictNamedArgs, which
// refuses a missing or extra argument), and go:embed fails the build if a file is gone.
// Every statement that returns a run lists the columns scanRun reads, in its order.

var (
	//go:embed sql/insert_run.sql
	qInsertRun string
	//go:embed sql/beat_runs.sql
	qBeatRuns string
	//go:embed sql/finish_run.sql
	qFinishRun string
	//go:embed sql/recover_runs.sql
	qRecoverRuns string
	//go:embed sql/last_run.sql
	qLastRun string
	//go:embed sql/runs.sql
	qRuns string
)
