-- notify wakes the workers at commit; PostgreSQL folds the NOTIFYs of one transaction on
-- one channel with one payload into one.
SELECT pg_notify(@channel, '')
