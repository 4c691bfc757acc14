-- How many active enrollments of a tier the CRM may already hold under the tier's current
-- mapping: Commerce7 ones with a membership id, every Shopify one (a tag leaves no id).
SELECT count(*)
FROM enrollments
WHERE tier_id = @tier_id
  AND status = 'active'
  AND (@crm_type::text = 'shopify' OR crm_membership_id IS NOT NULL)
