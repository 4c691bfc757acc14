-- The client's tier mapped to a Commerce7 club (tiers_client_c7_club_key), with its
-- duration.
SELECT id, duration_months
FROM tiers
WHERE client_id = @client_id
  AND c7_club_id = @c7_club_id
