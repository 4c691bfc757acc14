-- import_customer makes our row for a CRM customer we did not know, so that a repair can
-- be queued or an enrollment made for it. Nothing when its email is taken here (a
-- customer the comparison would have matched).
INSERT INTO customers (client_id, email, crm_id)
VALUES (@client_id, @email, @crm_customer_id)
ON CONFLICT DO NOTHING
RETURNING id::text
