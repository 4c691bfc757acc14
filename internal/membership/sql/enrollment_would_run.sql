-- Whether a membership starting at @paid_at for @duration_months would still be running.
SELECT ((@paid_at::timestamptz AT TIME ZONE 'UTC') + make_interval(months => @duration_months)) AT TIME ZONE 'UTC' > now()
