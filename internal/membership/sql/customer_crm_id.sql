SELECT crm_id
FROM customers
WHERE id = @id
