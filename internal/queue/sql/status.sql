-- status is one row's status (Wait, RunOne, the operations' conflicts).
SELECT status FROM crm_sync_queue WHERE id = @id
