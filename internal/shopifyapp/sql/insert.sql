-- insert makes a Shopify client's connection (in the transaction that makes the client).
INSERT INTO shopify_connections (client_id, shop, auth, app_client_id, app_client_secret_enc,
                                 access_token_enc, access_expires_at, access_renew_at, refresh_token_enc,
                                 refresh_expires_at, scopes, webhook_secret_enc, state)
VALUES (@client_id, @shop, @auth, @app_client_id, @app_client_secret_enc,
        @access_token_enc, @access_expires_at, @access_renew_at, @refresh_token_enc,
        @refresh_expires_at, @scopes, @webhook_secret_enc, @state)
