-- Deletes a client and every membership row of it (shop/redact), children first, in one
-- statement. Relying on the clients cascade alone fails: the cascade from tiers checks
-- enrollment_events' tier references (no cascade, on purpose) before the cascade through
-- enrollments has removed those events. Here every row is gone before the foreign-key
-- checks run at the end of the statement. The other owners (queue, shopifyapp, privacy)
-- delete their rows of the client first.
WITH events AS (
    DELETE FROM enrollment_events ev
    USING enrollments e
    WHERE ev.enrollment_id = e.id AND e.client_id = @id
), enrollments_gone AS (
    DELETE FROM enrollments WHERE client_id = @id
), orders_gone AS (
    DELETE FROM orders WHERE client_id = @id
), hooks AS (
    DELETE FROM webhook_events WHERE client_id = @id
), owners AS (
    DELETE FROM webhook_order_owners WHERE client_id = @id
), customers_gone AS (
    DELETE FROM customers WHERE client_id = @id
), tiers_gone AS (
    DELETE FROM tiers WHERE client_id = @id
)
DELETE FROM clients WHERE id = @id
