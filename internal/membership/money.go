package membership

import "tiersync/internal/crm"

// MaxOrderCents bounds an order total, whichever CRM sent it (crm.MaxOrderCents: each
// CRM's webhook parser refuses more, and OrderEvent.validate checks again).
const MaxOrderCents = crm.MaxOrderCents
