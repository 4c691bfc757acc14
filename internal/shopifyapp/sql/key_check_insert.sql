-- key_check_insert records this key's check value if none is stored yet (the first start),
-- and answers the stored one either way: the first of several replicas starting at once wins.
-- It answers nothing when another start's insert committed while this one waited on it (the
-- statement's snapshot predates that commit): the caller reads the row again.
WITH ins AS (
    INSERT INTO secret_key_check (check_value) VALUES (@check_value)
    ON CONFLICT (id) DO NOTHING
    RETURNING check_value, created_at, true AS inserted
)
SELECT check_value, created_at, inserted FROM ins
UNION ALL
SELECT check_value, created_at, false FROM secret_key_check WHERE NOT EXISTS (SELECT FROM ins)
