package reconcile

import _ "embed" // the statements below

// The package's SQL, kept in sql/ so that each statement reads (and runs in psql) as it is.

var (
	//go:embed sql/clients.sql
	qClients string
	//go:embed sql/abandon_runs.sql
	qAbandonRuns string
	//go:embed sql/adopt_run.sql
	qAdoptRun string
	//go:embed sql/insert_run.sql
	qInsertRun string
	//go:embed sql/save_page.sql
	qSavePage string
	//go:embed sql/insert_members.sql
	qInsertMembers string
	//go:embed sql/compare.sql
	qCompare string
	//go:embed sql/next_found.sql
	qNextFound string
	//go:embed sql/forget_members.sql
	qForgetMembers string
	//go:embed sql/scoped_found.sql
	qScopedFound string
	//go:embed sql/mark.sql
	qMark string
	//go:embed sql/finish_run.sql
	qFinishRun string
	//go:embed sql/repair_cancel_here.sql
	qRepairCancelHere string
	//go:embed sql/repair_enroll_here.sql
	qRepairEnrollHere string
	//go:embed sql/repair_move_here.sql
	qRepairMoveHere string
	//go:embed sql/repair_relink.sql
	qRepairRelink string
	//go:embed sql/import_customer.sql
	qImportCustomer string
	//go:embed sql/enrollment_active.sql
	qEnrollmentActive string
	//go:embed sql/report_runs.sql
	qReportRuns string
	//go:embed sql/report_differences.sql
	qReportDifferences string
	//go:embed sql/dry_run_confirmed.sql
	qDryRunConfirmed string
	//go:embed sql/job_run.sql
	qJobRun string
	//go:embed sql/latest_runs.sql
	qLatestRuns string
	//go:embed sql/orphans.sql
	qOrphans string
	//go:embed sql/known_emails.sql
	qKnownEmails string
	//go:embed sql/postpone_run.sql
	qPostponeRun string
)
