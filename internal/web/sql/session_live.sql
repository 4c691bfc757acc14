-- Whether a session is still live (by primary key, on every admin request).
SELECT true
FROM admin_sessions
WHERE id = @id
  AND expires_at > @now
