package membership

// The queue engine knows rows by two keys of ours, written on each row at enqueue.

// RateKey is the rate bucket a client's rows draw their CRM requests from: each client
// has its own CRM rate limit (rate_limit_per_minute), which CreateClient gives its bucket
// (queue.SetRate). The schema uses the same mapping for rows inserted by SQL.
func RateKey(clientID string) string { return clientID }

// orderKey makes a customer's rows apply one at a time, in order: an add must not race its
// own cancel.
func orderKey(customerID string) string { return customerID }
