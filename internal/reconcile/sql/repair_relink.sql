-- repair_relink links our customer to the CRM customer that holds its membership: our
-- crm_id is a copy of the CRM's identity (a merchant merged two customers, or we never
-- learnt it), not a policy question. Nothing when another of our customers has that id.
UPDATE customers c
SET crm_id = @crm_customer_id, updated_at = now()
WHERE c.id = @customer_id
  AND NOT EXISTS (SELECT 1 FROM customers o WHERE o.client_id = c.client_id AND o.crm_id = @crm_customer_id)
