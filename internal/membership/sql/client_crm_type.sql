SELECT crm_type
FROM clients
WHERE id = @id
