-- Stores what a redaction changed (counts only) on its request row.
UPDATE privacy_requests SET result = @result WHERE id = @id
