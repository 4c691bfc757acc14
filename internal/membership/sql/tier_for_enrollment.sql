SELECT client_id, duration_months
FROM tiers
WHERE id = @id
