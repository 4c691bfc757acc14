-- Clears the customer's member flags when @tier_id is their current tier (an enrollment
-- of that tier just ended, and a customer has one active enrollment at most).
UPDATE customers
SET is_club_member  = false,
    current_tier_id = NULL,
    updated_at      = now()
WHERE id = @id
  AND current_tier_id = @tier_id
