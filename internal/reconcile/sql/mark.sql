-- mark records what became of a difference (@only_found: unless it was already settled).
UPDATE reconcile_differences
SET status = @status, detail = CASE WHEN @detail = '' THEN detail ELSE @detail END, queue_id = @queue_id,
    repaired_at = CASE WHEN @status = 'repaired' THEN now() END
WHERE id = @id AND (NOT @only_found OR status = 'found')
