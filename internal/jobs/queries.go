package jobs

import _ "embed" // the query below

// The jobs own no table; their one statement calls the queue's SQL function, kept in
// sql/ like every package's SQL so that it reads (and runs in psql) as it is.

//go:embed sql/sweep.sql
var qSweep string
