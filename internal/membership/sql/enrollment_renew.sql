-- Extends an enrollment to @paid_at + @duration_months (in UTC) when that is later.
UPDATE enrollments
SET expires_at = greatest(expires_at,
        ((@paid_at::timestamptz AT TIME ZONE 'UTC') + make_interval(months => @duration_months)) AT TIME ZONE 'UTC'),
    updated_at = now()
WHERE id = @id
RETURNING expires_at
