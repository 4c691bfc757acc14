-- Finds the client's customer by email (any case) or creates it. The enrollment brings
-- the freshest names; a phone or address it lacks keeps the stored one. A crm_id that
-- contradicts the stored one refuses the update (no row comes back). has_address is
-- whether the customer, as now stored, has an address (a Ship membership needs one).
INSERT INTO customers (client_id, email, first_name, last_name, phone, address, crm_id)
VALUES (@client_id, @email, @first_name, @last_name, @phone, @address, @crm_id)
ON CONFLICT (client_id, lower(email)) DO UPDATE
SET first_name = EXCLUDED.first_name,
    last_name  = EXCLUDED.last_name,
    phone      = coalesce(EXCLUDED.phone, customers.phone),
    address    = coalesce(EXCLUDED.address, customers.address),
    crm_id     = coalesce(customers.crm_id, EXCLUDED.crm_id),
    updated_at = now()
WHERE customers.crm_id IS NULL
   OR EXCLUDED.crm_id IS NULL
   OR customers.crm_id = EXCLUDED.crm_id
RETURNING id, crm_id, address IS NOT NULL AS has_address
