package web

import _ "embed" // the statements in sql/

// The admin page owns admin_sessions (session.go). Its SQL lives in sql/, one file per
// statement, embedded as sql<Name> and bound with pgx.StrictNamedArgs (named @params; a
// missing or extra argument is an error, not a NULL). The membership tables are read
// through membership's functions (Store.ClientsByName, Store.Subject, ...). The two
// queue_* statements still read crm_sync_queue, the queue package's table, directly
// (read-only counts and recent failures, by client id) until the queue offers them.

var (
	//go:embed sql/session_start.sql
	sqlSessionStart string
	//go:embed sql/session_end.sql
	sqlSessionEnd string
	//go:embed sql/session_live.sql
	sqlSessionLive string
	//go:embed sql/queue_backlog.sql
	sqlQueueBacklog string
	//go:embed sql/queue_failed_recently.sql
	sqlQueueFailedRecently string
)
