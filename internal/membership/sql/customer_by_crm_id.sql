-- Finds and locks a client's customer by CRM id.
SELECT id
FROM customers
WHERE client_id = @client_id
  AND crm_id = @crm_id
FOR UPDATE
