-- Logs a session out everywhere: its cookie is only good while this row exists.
DELETE FROM admin_sessions
WHERE id = @id
