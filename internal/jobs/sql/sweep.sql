-- The seeds' process_crm_sync_queue() (migration 00004): wakes the workers (NOTIFY at
-- commit) and reports rows due now, rows being processed and failed rows.
SELECT due, processing, failed
FROM process_crm_sync_queue()
