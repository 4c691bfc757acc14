package web

import _ "embed" // the statements in sql/

// The admin page owns admin_sessions (session.go). Its SQL lives in sql/, one file per
// statement, embedded as sql<Name> and bound with pgx.StrictNamedArgs (named @params; a
// missing or extra argument is an error, not a NULL). The membership tables are read
// through membership's functions (Store.ClientsByName, Store.Subject, ...) and the queue's
// through the queue package (its engine, and reports such as queue.BacklogByClient).

var (
	//go:embed sql/session_start.sql
	sqlSessionStart string
	//go:embed sql/session_end.sql
	sqlSessionEnd string
	//go:embed sql/session_live.sql
	sqlSessionLive string
)
