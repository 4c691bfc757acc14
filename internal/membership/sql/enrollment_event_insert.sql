-- One line of an enrollment's history; @order_id is the order that caused it, if any.
INSERT INTO enrollment_events (enrollment_id, event, old_tier_id, new_tier_id, old_expires_at, new_expires_at, cause, order_id)
VALUES (@enrollment_id, @event, @old_tier_id, @new_tier_id, @old_expires_at, @new_expires_at, @cause, @order_id)
