-- key_check_insert records this key's check value if none is stored yet (the first start),
-- and answers the stored one either way: the first of several replicas starting at once wins.
WITH ins AS (
    INSERT INTO secret_key_check (check_value) VALUES (@check_value)
    ON CONFLICT (id) DO NOTHING
    RETURNING check_value, created_at, true AS inserted
)
SELECT check_value, created_at, inserted FROM ins
UNION ALL
SELECT check_value, created_at, false FROM secret_key_check WHERE NOT EXISTS (SELECT FROM ins)
