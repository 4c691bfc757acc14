-- set_customer_crm_id records the customer's CRM id once it is known.
UPDATE customers SET crm_id = @crm_id, updated_at = now()
WHERE id = @customer_id AND crm_id IS DISTINCT FROM @crm_id
