-- Deletes a client's connection: its sealed tokens and secrets (shop/redact).
DELETE FROM shopify_connections WHERE client_id = @client_id
