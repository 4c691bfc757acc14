SELECT client_id, duration_months, coalesce(c7_delivery_method, '')
FROM tiers
WHERE id = @id
