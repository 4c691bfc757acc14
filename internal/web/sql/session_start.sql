-- Records a new admin session and, in the same round trip, deletes the sessions that
-- have ended (so the table holds only as many rows as logins in the last session TTL).
WITH pruned AS (
    DELETE FROM admin_sessions
    WHERE expires_at < @now
)
INSERT INTO admin_sessions (id, expires_at)
VALUES (@id, @expires_at)
