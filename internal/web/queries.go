package web

import _ "embed" // the statements in sql/

// The admin page owns admin_sessions (session.go). Its SQL lives in sql/, one file per
// statement, embedded as sql<Name> and bound with pgx.StrictNamedArgs (named @params; a
// missing or extra argument is an error, not a NULL). The tables of other packages are
// read through those packages' functions.

var (
	//go:embed sql/session_start.sql
	sqlSessionStart string
	//go:embed sql/session_end.sql
	sqlSessionEnd string
	//go:embed sql/session_live.sql
	sqlSessionLive string
)

// qBacklog is each client's queue: pending (and due now), processing, failed.
const qBacklog = `
SELECT c.id, c.name, c.crm_type,
       count(q.id) FILTER (WHERE q.status = 'pending'),
       count(q.id) FILTER (WHERE q.status = 'pending' AND q.next_retry_at <= now()),
       count(q.id) FILTER (WHERE q.status = 'processing'),
       count(q.id) FILTER (WHERE q.status = 'failed')
FROM clients c
LEFT JOIN crm_sync_queue q ON q.client_id = c.id AND q.status IN ('pending', 'processing', 'failed')
GROUP BY c.id
ORDER BY c.name, c.id`

// qFailedRecently lists rows that failed in the last 24 hours.
const qFailedRecently = `
SELECT q.id, q.action_type, c.name, coalesce(q.error_message, ''), q.updated_at
FROM crm_sync_queue q JOIN clients c ON c.id = q.client_id
WHERE q.status = 'failed' AND q.updated_at > now() - interval '24 hours'
ORDER BY q.updated_at DESC, q.id DESC
LIMIT 20`

// qItemContext is a row's client, customer and enrollment.
const qItemContext = `
SELECT c.name, c.crm_type, cu.email, cu.first_name, cu.last_name, cu.crm_id,
       e.status, t.name, e.expires_at, e.crm_membership_id
FROM clients c
JOIN customers cu ON cu.id = $2
LEFT JOIN enrollments e ON e.id = $3
LEFT JOIN tiers t ON t.id = e.tier_id
WHERE c.id = $1`
