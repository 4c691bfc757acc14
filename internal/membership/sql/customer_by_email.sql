-- Finds and locks a client's customer by email, in any case (customers_client_email_key).
SELECT id
FROM customers
WHERE client_id = @client_id
  AND lower(email) = lower(@email)
FOR UPDATE
