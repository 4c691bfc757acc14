-- key_check_get is the stored key check value, if the first start has written it.
SELECT check_value, created_at FROM secret_key_check
