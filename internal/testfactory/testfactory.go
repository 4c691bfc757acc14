// Package testfactory inserts the rows tests start from — clients, tiers, customers,
// enrollments and crm_sync_queue rows — with defaults that satisfy the schema, so that a
// test states only what it is about:
//
//	pool := dbtest.New(t)
//	client := testfactory.Client(t, pool, testfactory.ClientOpts{})
//	tier := testfactory.Tier(t, pool, client, testfactory.TierOpts{Name: "Gold"})
//	customer := testfactory.Customer(t, pool, client, testfactory.CustomerOpts{})
//	row := testfactory.QueueRow(t, pool, testfactory.QueueRowOpts{CustomerID: customer, TierID: tier, Status: "failed"})
//
// In every options struct the zero value of a field means its default. Each call is
// unique by itself (tenants, emails, club ids and tags carry a random suffix), so that a
// test may call a function any number of times; the package keeps no state. The functions
// take a db.Querier (a pool or a transaction) and fail the test on any error.
//
// It writes with plain SQL (sql/*.sql) rather than through the membership layer on
// purpose: a test of the queue, the syncer or the API gets the rows it needs, including
// ones the application would never write (a row already at max_attempts, a failed row
// from 90 days ago), and no test depends on the code it might be testing.
package testfactory

import (
	"context"
	"crypto/rand"
	_ "embed" // the statements in sql/
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tiersync/internal/db"
	"tiersync/internal/secretbox"
)

var (
	//go:embed sql/client_insert.sql
	sqlClientInsert string
	//go:embed sql/client_set_rate_limit.sql
	sqlClientSetRateLimit string
	//go:embed sql/tier_insert.sql
	sqlTierInsert string
	//go:embed sql/customer_insert.sql
	sqlCustomerInsert string
	//go:embed sql/enrollment_insert.sql
	sqlEnrollmentInsert string
	//go:embed sql/queue_insert.sql
	sqlQueueInsert string
	//go:embed sql/queue_backlog.sql
	sqlQueueBacklog string
)

// SecretKey is the TIERSYNC_SECRET_KEY (32 bytes) a Shopify client's access token is
// sealed with: a test that reads the token back opens it with secretbox.New([]byte(SecretKey)).
const SecretKey = "testfactory-secret-key-32-bytes!"

// ShopifyToken is a Shopify client's access token when ClientOpts.ShopifyToken is empty.
const ShopifyToken = "shpat_testfactory"

// ShopifyWebhookSecret is the secret a Shopify client's webhooks are signed with when
// ClientOpts.ShopifyWebhookSecret is empty.
const ShopifyWebhookSecret = "testfactory-webhook-secret"

// DefaultRateLimit is a client's rate limit when ClientOpts.RateLimitPerMinute is zero: high
// enough that no test waits for its bucket unless it asks to.
const DefaultRateLimit = 100_000

// ClientOpts describes a client; zero values mean the defaults.
type ClientOpts struct {
	Name               string // default "Test Winery"
	CRMType            string // "commerce7" (default) or "shopify"
	Tenant             string // default "tenant-<random>" (Shopify: "<random>.myshopify.com")
	RateLimitPerMinute int    // default DefaultRateLimit
	ShopifyToken       string // Shopify only: default ShopifyToken, sealed with SecretKey
	// ShopifyWebhookSecret is a Shopify client's webhook secret: default ShopifyWebhookSecret.
	ShopifyWebhookSecret string
}

// Client inserts a client and returns its id. Its rate bucket comes with it (a trigger).
func Client(t testing.TB, q db.Querier, o ClientOpts) string {
	t.Helper()
	id := newUUID(t)
	suffix := random(t)
	if o.Name == "" {
		o.Name = "Test Winery"
	}
	if o.CRMType == "" {
		o.CRMType = "commerce7"
	}
	if o.Tenant == "" {
		o.Tenant = "tenant-" + suffix
		if o.CRMType == "shopify" {
			o.Tenant = suffix + ".myshopify.com"
		}
	}
	if o.RateLimitPerMinute == 0 {
		o.RateLimitPerMinute = DefaultRateLimit
	}
	var sealed, hook []byte
	if o.CRMType == "shopify" {
		if o.ShopifyToken == "" {
			o.ShopifyToken = ShopifyToken
		}
		if o.ShopifyWebhookSecret == "" {
			o.ShopifyWebhookSecret = ShopifyWebhookSecret
		}
		box, err := secretbox.New([]byte(SecretKey))
		if err != nil {
			t.Fatalf("testfactory.Client: %v", err)
		}
		// Sealed as shopifyapp seals them: the client's id is the additional data.
		if sealed, err = box.Seal([]byte(o.ShopifyToken), []byte(id)); err != nil {
			t.Fatalf("testfactory.Client: %v", err)
		}
		if hook, err = box.Seal([]byte(o.ShopifyWebhookSecret), []byte(id)); err != nil {
			t.Fatalf("testfactory.Client: %v", err)
		}
	}
	_, err := q.Exec(context.Background(), sqlClientInsert, pgx.StrictNamedArgs{
		"id": id, "name": o.Name, "crm_type": o.CRMType, "tenant": o.Tenant,
		"rate_limit_per_minute": o.RateLimitPerMinute, "access_token_enc": sealed, "webhook_secret_enc": hook,
	})
	if err != nil {
		t.Fatalf("testfactory.Client: %v", err)
	}
	return id
}

// SetRateLimit changes a client's rate limit; its rate bucket follows (a trigger).
func SetRateLimit(t testing.TB, q db.Querier, clientID string, perMinute int) {
	t.Helper()
	tag, err := q.Exec(context.Background(), sqlClientSetRateLimit, pgx.StrictNamedArgs{"id": clientID, "rate_limit_per_minute": perMinute})
	if err != nil {
		t.Fatalf("testfactory.SetRateLimit: %v", err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("testfactory.SetRateLimit: no client %s", clientID)
	}
}

// TierOpts describes a tier; zero values mean the defaults. The CRM mapping that the
// client's CRM needs is filled in unless given (a Commerce7 club with a random UUID, the
// shape of Commerce7's ids, with delivery "Ship", or the Shopify tag "club-<random>").
type TierOpts struct {
	Name             string // default "Tier <rank>"
	Rank             int    // default one above the client's best tier (1 for the first)
	DurationMonths   int    // default 12
	MinPurchaseCents int64
	MinLTVCents      int64
	C7ClubID         string
	C7DeliveryMethod string // "Ship" or "Pickup"
	// C7PickupLocationID is a Pickup tier's Commerce7 inventory location: default
	// "location-<random>" for a Pickup tier (the API requires one), none for others.
	C7PickupLocationID string
	ShopifyTag         string
}

// Tier inserts a tier of the client, of the client's CRM type, and returns its id.
func Tier(t testing.TB, q db.Querier, clientID string, o TierOpts) string {
	t.Helper()
	if o.DurationMonths == 0 {
		o.DurationMonths = 12
	}
	if o.C7DeliveryMethod == "Pickup" && o.C7PickupLocationID == "" {
		o.C7PickupLocationID = "location-" + random(t)
	}
	var id string
	err := q.QueryRow(context.Background(), sqlTierInsert, pgx.StrictNamedArgs{
		"client_id": clientID, "name": orNil(o.Name), "rank": intOrNil(o.Rank), "duration_months": o.DurationMonths,
		"min_purchase_cents": o.MinPurchaseCents, "min_ltv_cents": o.MinLTVCents,
		"c7_club_id": orNil(o.C7ClubID), "c7_delivery_method": orNil(o.C7DeliveryMethod),
		"c7_pickup_location_id": orNil(o.C7PickupLocationID), "shopify_tag": orNil(o.ShopifyTag),
		"default_club": newUUID(t), "default_tag": "club-" + random(t),
	}).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("testfactory.Tier: no client %s", clientID)
	}
	if err != nil {
		t.Fatalf("testfactory.Tier: %v", err)
	}
	return id
}

// CustomerOpts describes a customer; zero values mean the defaults.
type CustomerOpts struct {
	Email              string // default "c<n>-<random>@example.com", n counting from 1 in one call
	FirstName          string
	LastName           string
	Phone              string // default none (NULL)
	Address            map[string]string
	CRMID              string // default none (NULL): not yet linked to the CRM
	CurrentTierID      string // a club member of this tier (is_club_member follows); default none
	LifetimeValueCents int64
}

// Customer inserts a customer of the client and returns its id.
func Customer(t testing.TB, q db.Querier, clientID string, o CustomerOpts) string {
	t.Helper()
	return insertCustomers(t, "testfactory.Customer", q, clientID, []CustomerOpts{o})[0]
}

// Customers inserts n customers of the client with the defaults in one statement (their
// emails c1-<random>@example.com, c2-…) and returns their ids in that order.
func Customers(t testing.TB, q db.Querier, clientID string, n int) []string {
	t.Helper()
	return insertCustomers(t, "testfactory.Customers", q, clientID, make([]CustomerOpts, n))
}

// CustomersWith inserts one customer of the client per element of opts, in one statement,
// and returns their ids in that order.
func CustomersWith(t testing.TB, q db.Querier, clientID string, opts []CustomerOpts) []string {
	t.Helper()
	return insertCustomers(t, "testfactory.CustomersWith", q, clientID, opts)
}

func insertCustomers(t testing.TB, fn string, q db.Querier, clientID string, opts []CustomerOpts) []string {
	t.Helper()
	type row struct {
		ID                 string            `json:"id"`
		Email              string            `json:"email"`
		FirstName          string            `json:"first_name"`
		LastName           string            `json:"last_name"`
		Phone              *string           `json:"phone,omitempty"`
		Address            map[string]string `json:"address,omitempty"`
		CRMID              *string           `json:"crm_id,omitempty"`
		CurrentTierID      *string           `json:"current_tier_id,omitempty"`
		LifetimeValueCents int64             `json:"lifetime_value_cents"`
	}
	suffix := random(t)
	rows := make([]row, len(opts))
	ids := make([]string, len(opts))
	for i, o := range opts {
		ids[i] = newUUID(t)
		if o.Email == "" {
			o.Email = fmt.Sprintf("c%d-%s@example.com", i+1, suffix)
		}
		rows[i] = row{ID: ids[i], Email: o.Email, FirstName: o.FirstName, LastName: o.LastName, Phone: orNil(o.Phone),
			Address: o.Address, CRMID: orNil(o.CRMID), CurrentTierID: orNil(o.CurrentTierID), LifetimeValueCents: o.LifetimeValueCents}
	}
	if len(rows) == 0 {
		return ids
	}
	tag, err := q.Exec(context.Background(), sqlCustomerInsert, pgx.StrictNamedArgs{"client_id": clientID, "rows": rows})
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if tag.RowsAffected() != int64(len(rows)) {
		t.Fatalf("%s: inserted %d of %d customers", fn, tag.RowsAffected(), len(rows))
	}
	return ids
}

// EnrollmentOpts describes an enrollment; CustomerID and TierID are required, other zero
// values mean the defaults. The client is the customer's.
type EnrollmentOpts struct {
	CustomerID      string
	TierID          string
	Status          string    // default "active"; any other status ended at EndedAt (default now)
	EnrolledAt      time.Time // default now, or one tier duration before ExpiresAt when that is given
	ExpiresAt       time.Time // default EnrolledAt plus the tier's duration
	EndedAt         time.Time
	CRMMembershipID string // default none (NULL): not yet synced
	Source          string // "api" (default), "order" or "cli"
}

// Enrollment inserts an enrollment and returns its id. It sets no customer flags: give the
// customer CurrentTierID for a club member.
func Enrollment(t testing.TB, q db.Querier, o EnrollmentOpts) string {
	t.Helper()
	return insertEnrollments(t, "testfactory.Enrollment", q, []EnrollmentOpts{o})[0]
}

// Enrollments inserts one enrollment per element of opts, in one statement, and returns
// their ids in that order.
func Enrollments(t testing.TB, q db.Querier, opts []EnrollmentOpts) []string {
	t.Helper()
	return insertEnrollments(t, "testfactory.Enrollments", q, opts)
}

func insertEnrollments(t testing.TB, fn string, q db.Querier, opts []EnrollmentOpts) []string {
	t.Helper()
	type row struct {
		ID              string     `json:"id"`
		CustomerID      string     `json:"customer_id"`
		TierID          string     `json:"tier_id"`
		Status          string     `json:"status"`
		EnrolledAt      *time.Time `json:"enrolled_at,omitempty"`
		ExpiresAt       *time.Time `json:"expires_at,omitempty"`
		EndedAt         *time.Time `json:"ended_at,omitempty"`
		CRMMembershipID *string    `json:"crm_membership_id,omitempty"`
		Source          string     `json:"source"`
	}
	rows := make([]row, len(opts))
	ids := make([]string, len(opts))
	for i, o := range opts {
		if o.CustomerID == "" || o.TierID == "" {
			t.Fatalf("%s: CustomerID and TierID are required", fn)
		}
		if o.Status == "" {
			o.Status = "active"
		}
		if o.Source == "" {
			o.Source = "api"
		}
		ids[i] = newUUID(t)
		rows[i] = row{ID: ids[i], CustomerID: o.CustomerID, TierID: o.TierID, Status: o.Status,
			EnrolledAt: timeOrNil(o.EnrolledAt), ExpiresAt: timeOrNil(o.ExpiresAt), EndedAt: timeOrNil(o.EndedAt),
			CRMMembershipID: orNil(o.CRMMembershipID), Source: o.Source}
	}
	if len(rows) == 0 {
		return ids
	}
	tag, err := q.Exec(context.Background(), sqlEnrollmentInsert, pgx.StrictNamedArgs{"rows": rows})
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if tag.RowsAffected() != int64(len(rows)) {
		t.Fatalf("%s: inserted %d of %d enrollments (unknown customer or tier?)", fn, tag.RowsAffected(), len(rows))
	}
	return ids
}

// QueueRowOpts describes a crm_sync_queue row; CustomerID and TierID are required, other
// zero values mean the defaults (the columns' own, mostly).
type QueueRowOpts struct {
	ClientID      string // default the customer's client
	CustomerID    string
	TierID        string
	OldTierID     string // required by (and only for) upgrade_membership
	EnrollmentID  string // default none (NULL)
	ActionType    string // default "add_membership"
	CustomerCRMID string // default none (NULL)
	Status        string // default "pending"
	Priority      int    // default 0; the queue's PriorityHigh/PriorityLow are +10/-10
	Attempts      int
	MaxAttempts   int       // default 5
	NextRetryAt   time.Time // default now: due
	LastAttemptAt time.Time // default none (NULL): never attempted
	LockedBy      string    // default "testfactory" for a processing row, else NULL
	LockedUntil   time.Time // default five minutes from now for a processing row, else NULL
	ErrorMessage  string    // default none (NULL)
	CreatedAt     time.Time // default now
	UpdatedAt     time.Time // default now
	CompletedAt   time.Time // default now for a completed row, else NULL
	RateKey       string    // default the client's id (a trigger)
	OrderKey      string    // default the customer's id (a trigger)
}

// QueueBacklog inserts per pending rows of action on tier for each customer, round-robin
// (every customer's first row, then every second, …), at priority: the big backlogs of
// fairness tests, in one compact statement. It returns how many rows it inserted.
func QueueBacklog(t testing.TB, q db.Querier, customerIDs []string, tierID, action string, priority, per int) int64 {
	t.Helper()
	tag, err := q.Exec(context.Background(), sqlQueueBacklog, pgx.StrictNamedArgs{
		"customer_ids": customerIDs, "tier_id": tierID, "action_type": action, "priority": priority, "per": per,
	})
	if err != nil {
		t.Fatalf("testfactory.QueueBacklog: %v", err)
	}
	return tag.RowsAffected()
}

// QueueRow inserts a crm_sync_queue row and returns its id. It sends no notification: a
// test that wants running workers to see the row at once uses queue.Enqueue.
func QueueRow(t testing.TB, q db.Querier, o QueueRowOpts) int64 {
	t.Helper()
	return insertQueueRows(t, "testfactory.QueueRow", q, []QueueRowOpts{o})[0]
}

// QueueRows inserts one crm_sync_queue row per element of opts, in one statement and in
// that order, and returns their ids (increasing) in that order.
func QueueRows(t testing.TB, q db.Querier, opts []QueueRowOpts) []int64 {
	t.Helper()
	return insertQueueRows(t, "testfactory.QueueRows", q, opts)
}

func insertQueueRows(t testing.TB, fn string, q db.Querier, opts []QueueRowOpts) []int64 {
	t.Helper()
	type row struct {
		N             int        `json:"n"`
		ClientID      *string    `json:"client_id,omitempty"`
		CustomerID    string     `json:"customer_id"`
		EnrollmentID  *string    `json:"enrollment_id,omitempty"`
		ActionType    string     `json:"action_type"`
		TierID        string     `json:"tier_id"`
		OldTierID     *string    `json:"old_tier_id,omitempty"`
		CustomerCRMID *string    `json:"customer_crm_id,omitempty"`
		Status        string     `json:"status"`
		Priority      int        `json:"priority"`
		Attempts      int        `json:"attempts"`
		MaxAttempts   int        `json:"max_attempts"`
		NextRetryAt   *time.Time `json:"next_retry_at,omitempty"`
		LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
		LockedUntil   *time.Time `json:"locked_until,omitempty"`
		LockedBy      *string    `json:"locked_by,omitempty"`
		ErrorMessage  *string    `json:"error_message,omitempty"`
		CreatedAt     *time.Time `json:"created_at,omitempty"`
		UpdatedAt     *time.Time `json:"updated_at,omitempty"`
		CompletedAt   *time.Time `json:"completed_at,omitempty"`
		RateKey       *string    `json:"rate_key,omitempty"`
		OrderKey      *string    `json:"order_key,omitempty"`
	}
	rows := make([]row, len(opts))
	for i, o := range opts {
		if o.CustomerID == "" || o.TierID == "" {
			t.Fatalf("%s: CustomerID and TierID are required", fn)
		}
		if o.ActionType == "" {
			o.ActionType = "add_membership"
		}
		if o.Status == "" {
			o.Status = "pending"
		}
		if o.MaxAttempts == 0 {
			o.MaxAttempts = 5
		}
		rows[i] = row{N: i, ClientID: orNil(o.ClientID), CustomerID: o.CustomerID, EnrollmentID: orNil(o.EnrollmentID),
			ActionType: o.ActionType, TierID: o.TierID, OldTierID: orNil(o.OldTierID), CustomerCRMID: orNil(o.CustomerCRMID),
			Status: o.Status, Priority: o.Priority, Attempts: o.Attempts, MaxAttempts: o.MaxAttempts,
			NextRetryAt: timeOrNil(o.NextRetryAt), LastAttemptAt: timeOrNil(o.LastAttemptAt),
			LockedUntil: timeOrNil(o.LockedUntil), LockedBy: orNil(o.LockedBy), ErrorMessage: orNil(o.ErrorMessage),
			CreatedAt: timeOrNil(o.CreatedAt), UpdatedAt: timeOrNil(o.UpdatedAt), CompletedAt: timeOrNil(o.CompletedAt),
			RateKey: orNil(o.RateKey), OrderKey: orNil(o.OrderKey)}
	}
	if len(rows) == 0 {
		return nil
	}
	r, err := q.Query(context.Background(), sqlQueueInsert, pgx.StrictNamedArgs{"rows": rows})
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	ids, err := pgx.CollectRows(r, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("%s: %v", fn, err)
	}
	if len(ids) != len(rows) {
		t.Fatalf("%s: inserted %d of %d rows", fn, len(ids), len(rows))
	}
	// Inserted in the array's order, so the identity follows it; RETURNING's own order
	// is not promised.
	slices.Sort(ids)
	return ids
}

// random is a fresh 8-hex-digit suffix that makes a default unique.
func random(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testfactory: %v", err)
	}
	return hex.EncodeToString(b)
}

// newUUID is a random (version 4) UUID: ids chosen here let one statement insert many rows
// and return them in the caller's order.
func newUUID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testfactory: %v", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func intOrNil(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
