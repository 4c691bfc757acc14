-- Releases the run's advisory lock (see insert_run.sql).
SELECT pg_advisory_unlock(@lock_namespace::int, (@id::bigint % 2147483647)::int)
