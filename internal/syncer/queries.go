package syncer

import (
	_ "embed" // the syncer's SQL lives in sql/*.sql
)

// The syncer's SQL, one statement a file, with named parameters (pgx.StrictNamedArgs).
// Package-level only because go:embed needs a variable; nothing writes them.
var (
	//go:embed sql/load.sql
	sqlLoad string
	//go:embed sql/set_customer_crm_id.sql
	sqlSetCustomerCRMID string
	//go:embed sql/set_membership_id.sql
	sqlSetMembershipID string
)
