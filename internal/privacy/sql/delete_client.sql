-- Deletes every privacy request of a client (shop/redact): data requests hold emails.
DELETE FROM privacy_requests WHERE client_id = @client_id
