package queue

import (
	_ "embed" // the engine's SQL lives in sql/*.sql
)

// The engine's SQL, one statement a file, with named parameters (@name, bound with
// pgx.StrictNamedArgs, which refuses a missing or an unused argument). @now is the
// injected clock (NULL: the database's now()), so tests move time without sleeping;
// durations travel as milliseconds. Every statement touches only the engine's tables:
// crm_sync_queue, crm_sync_attempts, crm_rate_buckets and crm_queue_lanes.
//
// These are package-level only because go:embed needs a variable; nothing writes them.
var (
	//go:embed sql/enqueue.sql
	sqlEnqueue string
	//go:embed sql/notify.sql
	sqlNotify string
	//go:embed sql/claim_due.sql
	sqlClaimDue string
	//go:embed sql/retract.sql
	sqlRetract string
	//go:embed sql/claim_one.sql
	sqlClaimOne string
	//go:embed sql/status.sql
	sqlStatus string
	//go:embed sql/heartbeat.sql
	sqlHeartbeat string
	//go:embed sql/finish.sql
	sqlFinish string
	//go:embed sql/rescue.sql
	sqlRescue string
	//go:embed sql/prune.sql
	sqlPrune string
	//go:embed sql/take.sql
	sqlTake string
	//go:embed sql/set_rate.sql
	sqlSetRate string
	//go:embed sql/pause.sql
	sqlPause string
	//go:embed sql/resume.sql
	sqlResume string
	//go:embed sql/retry.sql
	sqlRetry string
	//go:embed sql/retry_failed.sql
	sqlRetryFailed string
	//go:embed sql/cancel.sql
	sqlCancel string
	//go:embed sql/list.sql
	sqlList string
	//go:embed sql/report_failed_since.sql
	sqlReportFailedSince string
	//go:embed sql/report_newest_failed.sql
	sqlReportNewestFailed string
	//go:embed sql/report_oldest_pending.sql
	sqlReportOldestPending string
	//go:embed sql/report_latest_for_enrollment.sql
	sqlReportLatestForEnrollment string
	//go:embed sql/report_backlog.sql
	sqlReportBacklog string
	//go:embed sql/get.sql
	sqlGet string
	//go:embed sql/attempts.sql
	sqlAttempts string
	//go:embed sql/counts.sql
	sqlCounts string
)
