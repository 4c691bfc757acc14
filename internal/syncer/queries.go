package syncer

// qLoad reads everything one queue row needs, as it is now (not as it was when the row was
// enqueued): the client, the customer (its CRM id may have been learnt since), the tier
// and, for upgrades, the old tier, and the enrollment.
const qLoad = `
SELECT c.crm_type, c.tenant,
       cu.email, cu.first_name, cu.last_name, coalesce(cu.phone, ''), cu.address, coalesce(cu.crm_id, ''),
       t.id, t.name, coalesce(t.c7_club_id, ''), coalesce(t.c7_delivery_method, ''), coalesce(t.shopify_tag, ''),
       ot.id, coalesce(ot.name, ''), coalesce(ot.c7_club_id, ''), coalesce(ot.c7_delivery_method, ''),
       coalesce(ot.shopify_tag, ''),
       e.enrolled_at, e.expires_at, coalesce(e.crm_membership_id, '')
FROM clients c
JOIN customers cu ON cu.id = $2 AND cu.client_id = c.id
JOIN tiers t ON t.id = $3 AND t.client_id = c.id
LEFT JOIN tiers ot ON ot.id = $4 AND ot.client_id = c.id
LEFT JOIN enrollments e ON e.id = $5 AND e.client_id = c.id
WHERE c.id = $1`

// qSetCustomerCRMID records the customer's CRM id once it is known.
const qSetCustomerCRMID = `
UPDATE customers SET crm_id = $2, updated_at = now()
WHERE id = $1 AND crm_id IS DISTINCT FROM $2`

// qSetMembershipID records the CRM's membership id on the enrollment.
const qSetMembershipID = `
UPDATE enrollments SET crm_membership_id = $2, updated_at = now()
WHERE id = $1 AND crm_membership_id IS DISTINCT FROM $2`
