-- customer_ids_by_email is the ids of the customers (of every client) whose email contains
-- @part, case-insensitively and literally (strpos has no wildcards, where ILIKE would read
-- % and _ in it as patterns), at most @limit of them, in id order.
SELECT id::text
FROM customers
WHERE strpos(lower(email), lower(@part::text)) > 0
ORDER BY id
LIMIT @limit
