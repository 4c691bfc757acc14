// Package c7test is a fake Commerce7 API for tests, the demo and outside test suites: a
// real HTTP server with state per tenant that enforces what Commerce7 enforces (HTTP
// Basic with the app's id and secret, the tenant header, required fields, its error
// bodies, a per-tenant request limit answered with 429 + Retry-After, one live membership
// per club) and injects the failures a sync must survive: a status for the next calls,
// latency, calls that hang, and calls applied whose answer is lost.
package c7test

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"tiersync/internal/crm/crmfake"
)

// Options configure a Fake.
type Options struct {
	AppID, AppSecret string // the Basic auth pair every request must carry
	// Tenants that exist; a request for another is refused (401). Empty: any non-empty
	// tenant exists.
	Tenants []string
	// RateLimit is the requests per minute per tenant: 0 means 100 (Commerce7's documented
	// limit), negative means unlimited.
	RateLimit int
	// Now is the fake's clock: the rate-limit window, and when a scheduled cancellation
	// takes effect. nil: time.Now.
	Now func() time.Time

	// Behaviours of Commerce7 that no public source confirms get a switch each, so that a
	// client is tested against every one (docs/crm-assumptions.md).

	// IgnoreCustomerFilter makes GET /club-membership?customerId= list every membership
	// of the tenant, as an API that does not honour the filter would: a client must check
	// each membership's customerId itself.
	IgnoreCustomerFilter bool
	// IgnoreClubFilter makes GET /club-membership?clubId= list every membership of the
	// tenant (through the customerId filter, when one is given and honoured), as an API
	// that does not honour the club filter would: a client listing a club must check each
	// membership's clubId itself.
	IgnoreClubFilter bool
	// RequireCard refuses (422, field customerCreditCardId) a POST /club-membership
	// without a credit card of the customer's own, as Commerce7's help says club
	// memberships require a card on file. Off: a membership without a card is made.
	RequireCard bool
	// CancelDateClear is what a PUT /club-membership/{id} with "cancelDate": null does to
	// a cancellation scheduled for a later date.
	CancelDateClear ClearMode
}

// ClearMode is how the fake answers a request to remove a scheduled cancellation.
type ClearMode int

const (
	// ClearRemoves removes the cancel date: the membership stays Active (Commerce7's admin
	// has "Remove Cancellation"; whether the API does it with a null is not confirmed).
	ClearRemoves ClearMode = iota
	// ClearIgnored answers 200 and keeps the cancel date, as an API that ignores a null.
	ClearIgnored
	// ClearRefused answers 422 and keeps the cancel date.
	ClearRefused
)

// ParseClearMode reads a ClearMode by name: "removes", "ignored" or "refused".
func ParseClearMode(s string) (ClearMode, error) {
	switch s {
	case "removes", "":
		return ClearRemoves, nil
	case "ignored":
		return ClearIgnored, nil
	case "refused":
		return ClearRefused, nil
	}
	return 0, fmt.Errorf("c7test: cancel date clear mode %q: want removes, ignored or refused", s)
}

// Customer is a Commerce7 customer.
type Customer struct {
	ID        string    `json:"id"`
	FirstName string    `json:"firstName"`
	LastName  string    `json:"lastName"`
	Emails    []string  `json:"emails"`
	Phone     string    `json:"phone,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Address is a customer's address.
type Address struct {
	ID          string `json:"id"`
	CustomerID  string `json:"customerId"`
	FirstName   string `json:"firstName"`
	LastName    string `json:"lastName"`
	Address     string `json:"address"`
	Address2    string `json:"address2"`
	City        string `json:"city"`
	StateCode   string `json:"stateCode"`
	ZipCode     string `json:"zipCode"`
	CountryCode string `json:"countryCode"`
	IsDefault   bool   `json:"isDefault"`
}

// Membership is a club membership.
type Membership struct {
	ID                        string     `json:"id"`
	CustomerID                string     `json:"customerId"`
	ClubID                    string     `json:"clubId"`
	Status                    string     `json:"status"`
	OrderDeliveryMethod       string     `json:"orderDeliveryMethod"`
	BillToCustomerAddressID   string     `json:"billToCustomerAddressId,omitempty"`
	ShipToCustomerAddressID   string     `json:"shipToCustomerAddressId,omitempty"`
	CustomerCreditCardID      string     `json:"customerCreditCardId,omitempty"`
	PickupInventoryLocationID string     `json:"pickupInventoryLocationId,omitempty"`
	SignupDate                time.Time  `json:"signupDate"`
	CancelDate                *time.Time `json:"cancelDate"`
	CancellationReason        string     `json:"cancellationReason,omitempty"`
	CreatedAt                 time.Time  `json:"createdAt"`
	UpdatedAt                 time.Time  `json:"updatedAt"`
}

// Request is one API request as the fake saw it.
type Request struct {
	Method   string `json:"method"`
	Path     string `json:"path"`
	RawQuery string `json:"rawQuery"`
	Tenant   string `json:"tenant"`
	Status   int    `json:"status"` // 0: the answer was lost or the call hung
	Body     string `json:"body"`
}

// FaultKind is what an injected fault does.
type FaultKind = crmfake.Kind

const (
	// FaultStatus answers Status without applying the request.
	FaultStatus = crmfake.Status
	// FaultHang never answers: the call ends when the client gives up or the fake closes.
	FaultHang = crmfake.Hang
	// FaultLoseAnswer applies the request, then drops the connection without an answer.
	FaultLoseAnswer = crmfake.LoseAnswer
	// FaultErrorsIn200 answers 200 with a non-empty errors array, without applying.
	FaultErrorsIn200 = crmfake.Custom
)

// faultKinds are the control API's names of the fault kinds.
func faultKinds() []crmfake.KindName {
	return []crmfake.KindName{{Name: "status", Kind: FaultStatus}, {Name: "hang", Kind: FaultHang},
		{Name: "lose_answer", Kind: FaultLoseAnswer}, {Name: "errors_in_200", Kind: FaultErrorsIn200}}
}

// Fault is injected into the next Count requests that match Method and Path.
type Fault struct {
	Method     string    // "" matches any
	Path       string    // a prefix of the path after /v1; "" matches any
	Count      int       // how many matching requests it applies to
	Kind       FaultKind // what the fault does
	Status     int       // FaultStatus: the status to answer; not a valid status (e.g. 0): 500
	RetryAfter int       // FaultStatus with 429: the Retry-After seconds
	// Tenant limits the fault to one tenant's requests; "" matches any tenant.
	Tenant string
	// Message is FaultStatus's error body message; "" means "injected failure". It is
	// sent as the JSON string it is, so a NUL in it reaches the client as \u0000.
	Message string
	// RawBody, when set, is sent as FaultStatus's body byte for byte instead of Commerce7's
	// JSON error, as a proxy or load balancer in front of the CRM may answer: the bytes
	// need not be JSON nor valid UTF-8. Tests of what we trust in a CRM's answer use it.
	RawBody string
}

func (fl Fault) generic() crmfake.Fault {
	return crmfake.Fault{Method: fl.Method, Path: fl.Path, Scope: fl.Tenant, Count: fl.Count, Kind: fl.Kind,
		Status: fl.Status, RetryAfter: fl.RetryAfter, Message: fl.Message, RawBody: fl.RawBody}
}

// tenantState is one tenant's data.
type tenantState struct {
	customers   []*Customer
	addresses   []*Address
	memberships []*Membership
	// Indexes, so a fake holding tens of thousands of memberships answers as fast as a
	// small one (system tests drain 20 000 rows through it).
	customerByID   map[string]*Customer
	membershipByID map[string]*Membership
	membershipsOf  map[string][]*Membership // by customer id
	addressesOf    map[string][]*Address    // by customer id
	cardsOf        map[string][]*CreditCard // by customer id
	// scheduled are the Active memberships with a cancel date still to come; settle ends
	// them once it has passed.
	scheduled   map[string]*Membership
	clubs       map[string]bool // empty: any club exists
	windowStart time.Time
	windowCount int
}

// Fake is a fake Commerce7. Its methods are safe for concurrent use.
type Fake struct {
	opts Options

	// core holds the faults, the latency and the request log (crmfake).
	core *crmfake.Core[Request]

	mu      sync.Mutex // the tenants' state
	tenants map[string]*tenantState
}

// New makes a fake; Handler serves it.
func New(opts Options) *Fake {
	if opts.RateLimit == 0 {
		opts.RateLimit = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := &Fake{opts: opts, core: crmfake.New[Request](), tenants: map[string]*tenantState{}}
	for _, t := range opts.Tenants {
		f.tenants[t] = newTenant()
	}
	return f
}

func newTenant() *tenantState {
	return &tenantState{clubs: map[string]bool{}, customerByID: map[string]*Customer{},
		membershipByID: map[string]*Membership{}, membershipsOf: map[string][]*Membership{}, addressesOf: map[string][]*Address{},
		cardsOf: map[string][]*CreditCard{}, scheduled: map[string]*Membership{}}
}

// Close releases every hanging call.
func (f *Fake) Close() { f.core.Close() }

// Inject adds a fault; faults apply in the order injected. A Count below 1 means 1, so a
// forgotten Count still fails one call rather than none; a status fault's status outside
// 100–599 is a 500.
func (f *Fake) Inject(fl Fault) { f.core.Inject(fl.generic()) }

// ClearFaults removes every fault not yet used up: the CRM recovers.
func (f *Fake) ClearFaults() { f.core.ClearFaults() }

// SetLatency delays every answer by d.
func (f *Fake) SetLatency(d time.Duration) { f.core.SetLatency(d) }

// tenant returns the tenant's state (creating it when any tenant exists), nil for a
// tenant that does not exist; f.mu held.
func (f *Fake) tenant(name string) *tenantState {
	t := f.tenants[name]
	if t == nil && len(f.opts.Tenants) == 0 && name != "" {
		t = newTenant()
		f.tenants[name] = t
	}
	return t
}

// seedTenant is tenant for the seeding methods. Seeding a tenant that cannot exist is a
// mistake in the test itself, and the seeds have no error to return, so it panics with a
// message naming the cause rather than with a nil dereference; f.mu held.
func (f *Fake) seedTenant(op, name string) *tenantState {
	t := f.tenant(name)
	if t == nil {
		panic(fmt.Sprintf("c7test: %s: tenant %q does not exist (not in Options.Tenants, or empty)", op, name))
	}
	return t
}

// AddClub makes a club exist for the tenant. Until a tenant has a club, any club id is
// accepted.
func (f *Fake) AddClub(tenant, clubID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.tenant(tenant); t != nil {
		t.clubs[clubID] = true
	}
}

// AddCustomer seeds a customer (the merchant made it); an empty ID is assigned.
func (f *Fake) AddCustomer(tenant string, c Customer) Customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		c.ID = newID()
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = f.opts.Now().UTC()
	}
	t := f.seedTenant("AddCustomer", tenant)
	t.addCustomer(&c)
	return c
}

func (t *tenantState) addCustomer(c *Customer) {
	t.customers = append(t.customers, c)
	t.customerByID[c.ID] = c
}

func (t *tenantState) addMembership(m *Membership) {
	t.memberships = append(t.memberships, m)
	t.membershipByID[m.ID] = m
	t.membershipsOf[m.CustomerID] = append(t.membershipsOf[m.CustomerID], m)
	t.schedule(m)
}

// AddAddress seeds an address.
func (f *Fake) AddAddress(tenant string, a Address) Address {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.seedTenant("AddAddress", tenant).addAddress(a)
}

func (t *tenantState) addAddress(a Address) *Address {
	if a.ID == "" {
		a.ID = newID()
	}
	first := true
	for _, x := range t.addressesOf[a.CustomerID] {
		first = false
		if a.IsDefault {
			x.IsDefault = false
		}
	}
	a.IsDefault = a.IsDefault || first
	t.addresses = append(t.addresses, &a)
	t.addressesOf[a.CustomerID] = append(t.addressesOf[a.CustomerID], &a)
	return &a
}

// Customers returns the tenant's customers, oldest first.
func (f *Fake) Customers(tenant string) []Customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Customer
	if t := f.tenants[tenant]; t != nil {
		for _, c := range t.customers {
			out = append(out, *c)
		}
	}
	// Seeds may carry their own CreatedAt, so the order of insertion is not always the
	// order of creation; stable, so customers made in the same instant keep theirs.
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// CustomerByEmail returns the first customer with exactly this email (any case).
func (f *Fake) CustomerByEmail(tenant, email string) (Customer, bool) {
	for _, c := range f.Customers(tenant) {
		for _, e := range c.Emails {
			if strings.EqualFold(e, email) {
				return c, true
			}
		}
	}
	return Customer{}, false
}

// Addresses returns the customer's addresses.
func (f *Fake) Addresses(tenant, customerID string) []Address {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Address
	if t := f.tenants[tenant]; t != nil {
		for _, a := range t.addressesOf[customerID] {
			out = append(out, *a)
		}
	}
	return out
}

// Requests returns every API request so far, in the order they took effect.
func (f *Fake) Requests() []Request { return f.core.Requests() }

// admit checks the tenant's request window; f.mu held. It returns the wait when refused.
func (f *Fake) admit(t *tenantState) (bool, time.Duration) {
	if f.opts.RateLimit < 0 {
		return true, 0
	}
	now := f.opts.Now()
	if t.windowStart.IsZero() || now.Sub(t.windowStart) >= time.Minute {
		t.windowStart, t.windowCount = now, 0
	}
	if t.windowCount >= f.opts.RateLimit {
		return false, t.windowStart.Add(time.Minute).Sub(now)
	}
	t.windowCount++
	return true, 0
}

// newID returns a random (version 4) UUID, the shape of Commerce7's ids, so clients that
// check or store ids see real ones.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand.Read crashes the program rather than return an error
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// sortByCreation orders memberships oldest first, as Commerce7 lists them; stable, so
// memberships made in the same instant (a frozen test clock) keep their insertion order.
func sortByCreation(ms []*Membership) {
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].CreatedAt.Before(ms[j].CreatedAt) })
}
