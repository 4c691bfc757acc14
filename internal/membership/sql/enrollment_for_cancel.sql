-- Reads and locks an enrollment about to be cancelled by an operator, with its customer's
-- CRM id (the cancel row carries it, as the expiration's do). FOR UPDATE waits for an
-- expiration batch or an order holding the row, then reads the status it left.
SELECT e.status, e.client_id, e.customer_id, e.tier_id, e.expires_at, c.crm_id
FROM enrollments e
JOIN customers c ON c.id = e.customer_id AND c.client_id = e.client_id
WHERE e.id = @id
FOR UPDATE OF e
