-- Marks the customer a member of the tier.
UPDATE customers
SET is_club_member  = true,
    current_tier_id = @tier_id,
    updated_at      = now()
WHERE id = @id
