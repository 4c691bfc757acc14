package alert

import _ "embed" // the queries below

// The alerter owns alert_deliveries. Its SQL lives in sql/, one file per statement,
// with named parameters (@name, bound with pgx.StrictNamedArgs, which refuses a missing
// or extra argument); go:embed fails the build if a file is gone.
//
// failed_since, newest_failed and oldest_pending read crm_sync_queue, which the queue
// package owns: they are read-only looks at status, times and error text, kept here
// until the queue offers them as functions.

var (
	//go:embed sql/last_delivery.sql
	qLastDelivery string
	//go:embed sql/record_delivery.sql
	qRecordDelivery string
	//go:embed sql/failed_since.sql
	qFailedSince string
	//go:embed sql/newest_failed.sql
	qNewestFailed string
	//go:embed sql/oldest_pending.sql
	qOldestPending string
)
