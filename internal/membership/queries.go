package membership

import _ "embed" // the queries in sql/

// The membership layer owns clients, tiers, customers, enrollments, enrollment_events,
// orders, webhook_events and webhook_order_owners: no other package writes them, and
// other packages read them through this package's functions.
//
// Its SQL lives in sql/, one file per statement, named <table>_<what it does>.sql (and
// expire_* for the expiration functions) and embedded as sql<Table><WhatItDoes>, so that
// `ls sql/enrollment_*` is one place to read a table's queries. One file per statement rather than one per table: go:embed
// gives each its own string, checked at build time, with no loader or name parser to get
// wrong, and each file runs as it is in psql. Parameters are named (@name) and bound with
// pgx.StrictNamedArgs, which refuses a missing or an extra argument instead of sending
// NULL. A statement that returns clients, tiers or enrollments lists the columns that
// scanClient, scanTier or the enrollment scans read, in their order.

var (
	//go:embed sql/client_by_tenant.sql
	sqlClientByTenant string
	//go:embed sql/client_crm_type.sql
	sqlClientCRMType string
	//go:embed sql/client_get.sql
	sqlClientGet string
	//go:embed sql/client_insert.sql
	sqlClientInsert string
	//go:embed sql/client_list.sql
	sqlClientList string
	//go:embed sql/client_list_by_name.sql
	sqlClientListByName string

	//go:embed sql/sync_subject.sql
	sqlSyncSubject string
	//go:embed sql/customer_set_crm_id.sql
	sqlCustomerSetCRMID string
	//go:embed sql/enrollment_set_membership_id.sql
	sqlEnrollmentSetMembershipID string

	//go:embed sql/tier_by_c7_club.sql
	sqlTierByC7Club string
	//go:embed sql/tier_for_enrollment.sql
	sqlTierForEnrollment string
	//go:embed sql/tier_insert.sql
	sqlTierInsert string
	//go:embed sql/tier_list.sql
	sqlTierList string
	//go:embed sql/tier_qualifying.sql
	sqlTierQualifying string

	//go:embed sql/customer_by_crm_id.sql
	sqlCustomerByCRMID string
	//go:embed sql/customer_by_email.sql
	sqlCustomerByEmail string
	//go:embed sql/customer_clear_member.sql
	sqlCustomerClearMember string
	//go:embed sql/customer_crm_id.sql
	sqlCustomerCRMID string
	//go:embed sql/customer_ids_by_email.sql
	sqlCustomerIDsByEmail string
	//go:embed sql/customer_set_member.sql
	sqlCustomerSetMember string
	//go:embed sql/customer_update_ltv.sql
	sqlCustomerUpdateLTV string
	//go:embed sql/customer_upsert.sql
	sqlCustomerUpsert string
	//go:embed sql/customer_upsert_from_order.sql
	sqlCustomerUpsertFromOrder string

	//go:embed sql/enrollment_active_for_update.sql
	sqlEnrollmentActiveForUpdate string
	//go:embed sql/enrollment_active_id.sql
	sqlEnrollmentActiveID string
	//go:embed sql/enrollment_by_crm_membership.sql
	sqlEnrollmentByCRMMembership string
	//go:embed sql/enrollment_end.sql
	sqlEnrollmentEnd string
	//go:embed sql/enrollment_event_insert.sql
	sqlEnrollmentEventInsert string
	//go:embed sql/enrollment_get.sql
	sqlEnrollmentGet string
	//go:embed sql/enrollment_insert.sql
	sqlEnrollmentInsert string
	//go:embed sql/enrollment_insert_from_crm.sql
	sqlEnrollmentInsertFromCRM string
	//go:embed sql/enrollment_insert_from_order.sql
	sqlEnrollmentInsertFromOrder string
	//go:embed sql/enrollment_renew.sql
	sqlEnrollmentRenew string
	//go:embed sql/enrollment_would_run.sql
	sqlEnrollmentWouldRun string

	//go:embed sql/expire_batch.sql
	sqlExpireBatch string
	//go:embed sql/expire_count_due.sql
	sqlExpireCountDue string
	//go:embed sql/expire_list_due.sql
	sqlExpireListDue string

	//go:embed sql/order_upsert.sql
	sqlOrderUpsert string
	//go:embed sql/order_void.sql
	sqlOrderVoid string

	//go:embed sql/webhook_event_insert.sql
	sqlWebhookEventInsert string
	//go:embed sql/webhook_event_set_outcome.sql
	sqlWebhookEventSetOutcome string
	//go:embed sql/webhook_order_claim.sql
	sqlWebhookOrderClaim string
	//go:embed sql/webhook_order_owner.sql
	sqlWebhookOrderOwner string

	//go:embed sql/subject.sql
	sqlSubject string
)
