-- Ends an enrollment (expired, upgraded or cancelled).
UPDATE enrollments
SET status     = @status,
    ended_at   = now(),
    updated_at = now()
WHERE id = @id
