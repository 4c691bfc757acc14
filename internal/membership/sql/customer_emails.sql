-- The emails of the customers @ids (of any client), for lists that show rows of other
-- tables (the queue's) by who they are about. Ids that are gone are simply absent.
SELECT id::text, email
FROM customers
WHERE id = ANY (@ids::uuid[])
