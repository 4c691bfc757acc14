package alert

import _ "embed" // the queries below

// The alerter owns alert_deliveries. Its SQL lives in sql/, one file per statement,
// with named parameters (@name, bound with pgx.StrictNamedArgs, which refuses a missing
// or extra argument); go:embed fails the build if a file is gone.
// What it reads of crm_sync_queue comes from the queue package's reports.

var (
	//go:embed sql/last_delivery.sql
	qLastDelivery string
	//go:embed sql/record_delivery.sql
	qRecordDelivery string
	//go:embed sql/claim_connection.sql
	qClaimConnection string
)
