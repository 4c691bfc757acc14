-- set_membership_id records the CRM's membership id on the enrollment.
UPDATE enrollments SET crm_membership_id = @membership_id, updated_at = now()
WHERE id = @enrollment_id AND crm_membership_id IS DISTINCT FROM @membership_id
