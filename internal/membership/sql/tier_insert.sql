INSERT INTO tiers (client_id, crm_type, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
                   c7_club_id, c7_delivery_method, c7_pickup_location_id, shopify_tag)
VALUES (@client_id, @crm_type, @name, @rank, @duration_months, @min_purchase_cents, @min_ltv_cents,
        @c7_club_id, @c7_delivery_method, @c7_pickup_location_id, @shopify_tag)
RETURNING id, client_id, name, rank, duration_months, min_purchase_cents, min_ltv_cents,
          c7_club_id, c7_delivery_method, c7_pickup_location_id, shopify_tag, created_at
