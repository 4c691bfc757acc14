-- A new client's id, drawn before its row is written: the stored token is sealed with
-- the id as additional data, and the row must carry the token from its first version.
SELECT gen_random_uuid()::text
