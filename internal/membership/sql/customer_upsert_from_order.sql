-- Finds a customer by email or creates it from an order, and locks it (the upsert's row
-- lock holds until commit). A CRM id fills a missing one; names fill empty ones.
INSERT INTO customers (client_id, email, first_name, last_name, crm_id)
VALUES (@client_id, @email, @first_name, @last_name, @crm_id)
ON CONFLICT (client_id, lower(email)) DO UPDATE
SET crm_id     = coalesce(customers.crm_id, EXCLUDED.crm_id),
    first_name = CASE WHEN customers.first_name = '' THEN EXCLUDED.first_name ELSE customers.first_name END,
    last_name  = CASE WHEN customers.last_name = '' THEN EXCLUDED.last_name ELSE customers.last_name END,
    updated_at = now()
RETURNING id
