-- Replaces a customer's personal data by placeholders that keep customers' checks and
-- unique indexes (the email is unique per client: its own id makes it so), and returns
-- what was there, for the redaction to scrub from other texts. Counts stay: lifetime
-- value, membership flags, crm_id (an id, the one Shopify's request names).
UPDATE customers c
SET email      = 'redacted+' || c.id || '@redacted.invalid',
    first_name = '',
    last_name  = '',
    phone      = NULL,
    address    = NULL,
    updated_at = now()
FROM (SELECT id, email, first_name, last_name, phone, address
      FROM customers
      WHERE id = @id AND client_id = @client_id
      FOR UPDATE) old
WHERE c.id = old.id
RETURNING old.email, old.first_name, old.last_name, old.phone, old.address
