// Package shopifytest is a fake Shopify Admin GraphQL API for tests, the demo and outside
// test suites. It understands the operations tiersync sends — it recognises each by its
// root field and reads its variables — keeps customers with tags and metafields per shop,
// checks the access token, charges Shopify's calculated query cost against a leaky bucket
// per shop (answering THROTTLED with the real figures when it runs dry), answers
// userErrors for bad input, and injects the same faults as the Commerce7 fake.
package shopifytest

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tiersync/internal/crm/crmfake"
)

// Options configure a Fake.
type Options struct {
	// Shops maps each shop domain to its Admin API access token: a legacy static token,
	// which never expires.
	Shops map[string]string
	// AccessTokenTTL is how long an access token from the token endpoint lasts (oauth.go),
	// measured on Now: 0 means Shopify's, ClientCredentialsTTL (24 h) for client
	// credentials and ExpiringOfflineTTL (60 min) for expiring offline tokens.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is how long a refresh token lasts: 0 means RefreshTTL (90 days).
	RefreshTokenTTL time.Duration
	// Bucket size and restore rate of every shop's cost bucket: 0 means Shopify's standard
	// plan, 2 000 points restoring 100 a second.
	BucketSize, RestoreRate float64
	// SearchLag is how many searches a new customer stays invisible to, as Shopify's
	// search index lags behind its writes.
	SearchLag int
	Now       func() time.Time // the bucket's clock; nil: time.Now

	// Search is how the customers search matches an email (search.go): SearchExact
	// (default) or SearchPrefix, Shopify's search being no exact match.
	Search SearchMode
	// PhoneTaken is customerCreate's message for a phone another customer of the shop has
	// (phone.go): PhoneTakenMessage (default) or PhoneTakenInvalid.
	PhoneTaken PhoneTakenMode
	// AllowHTTPWebhooks lets webhookSubscriptionCreate take an http:// address (tests
	// listening on http://127.0.0.1); Shopify demands https (webhooks.go).
	AllowHTTPWebhooks bool
	// DeprecatedBefore: a request to an older API version is answered with
	// X-Shopify-API-Deprecated-Reason (versions.go). "": four releases before LatestVersion.
	DeprecatedBefore string
	// TagSearch is how a customers search's `tag:` terms match (tags.go): TagSearchExact
	// (default), TagSearchCaseSensitive, TagSearchPrefix or TagSearchIgnored. Shopify
	// documents none of these rules.
	TagSearch TagSearchMode
	// TagSearchLag is how many tag searches still see a customer's tags as they were
	// before a change (tagsAdd, tagsRemove, SetTags), as a search index that lags behind
	// its writes would. The customers it finds are read live: their tags are current.
	TagSearchLag int
}

// Customer is a Shopify customer.
type Customer struct {
	ID         string               `json:"id"`
	Email      string               `json:"email"`
	FirstName  string               `json:"firstName"`
	LastName   string               `json:"lastName"`
	Phone      string               `json:"phone,omitempty"`
	Tags       []string             `json:"tags"`
	Metafields map[string]Metafield `json:"metafields"` // by "namespace.key"
	hiddenFor  int                  // searches left before it shows up
	// indexedTags is what the tag search sees while tagLag > 0 (Options.TagSearchLag):
	// the tags before the change it has not caught up with.
	indexedTags []string
	tagLag      int
}

// Metafield is a customer metafield.
type Metafield struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Request is one GraphQL request as the fake saw it.
type Request struct {
	Host      string         `json:"host"`
	Path      string         `json:"path"`
	Shop      string         `json:"shop"`
	Operation string         `json:"operation"` // the root field: customers, tagsAdd, …
	Variables map[string]any `json:"variables"`
	Status    int            `json:"status"`    // 0: the answer was lost or the call hung
	Throttled bool           `json:"throttled"` // answered THROTTLED
	Cost      float64        `json:"cost"`      // requested cost
}

// FaultKind is what an injected fault does.
type FaultKind = crmfake.Kind

const (
	FaultStatus     = crmfake.Status     // answer Status without applying
	FaultHang       = crmfake.Hang       // never answer
	FaultLoseAnswer = crmfake.LoseAnswer // apply, then drop the connection
	FaultThrottle   = crmfake.Custom     // answer THROTTLED as if the bucket were empty
)

// faultKinds are the control API's names of the fault kinds.
func faultKinds() []crmfake.KindName {
	return []crmfake.KindName{{Name: "status", Kind: FaultStatus}, {Name: "hang", Kind: FaultHang},
		{Name: "lose_answer", Kind: FaultLoseAnswer}, {Name: "throttle", Kind: FaultThrottle}}
}

// Fault applies to the next Count requests of Operation ("" any) to Shop ("" any).
type Fault struct {
	Operation  string
	Count      int
	Kind       FaultKind
	Status     int // FaultStatus: the status; outside 100–599, 500
	RetryAfter int // seconds, with a 429
	Shop       string
	// Message is FaultStatus's errors text; "" means "injected <status>".
	Message string
	// RawBody, when set, is sent as FaultStatus's body byte for byte instead of JSON.
	RawBody string
}

func (fl Fault) generic() crmfake.Fault {
	return crmfake.Fault{Operation: fl.Operation, Scope: fl.Shop, Count: fl.Count, Kind: fl.Kind, Status: fl.Status,
		RetryAfter: fl.RetryAfter, Message: fl.Message, RawBody: fl.RawBody}
}

type shopState struct {
	domain        string // the shop's myshopify.com domain: what `shop { name myshopifyDomain }` answers
	customers     []*Customer
	subscriptions []*Subscription // webhooks.go
	available     float64
	at            time.Time
}

// Fake is a fake Shopify. Its methods are safe for concurrent use.
type Fake struct {
	opts Options

	// core holds the faults, the latency and the request log (crmfake).
	core *crmfake.Core[Request]

	mu      sync.Mutex // the shops' state
	shops   map[string]*shopState
	byToken map[string]string // static tokens (Options.Shops, AddShop)
	auth    *auth             // apps, installs, issued tokens (oauth.go)
	nextID  int64
}

// New makes a fake; Handler serves it.
func New(opts Options) *Fake {
	if opts.BucketSize == 0 {
		opts.BucketSize = 2000
	}
	if opts.RestoreRate == 0 {
		opts.RestoreRate = 100
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DeprecatedBefore == "" {
		opts.DeprecatedBefore = releasesBefore(LatestVersion, 4)
	}
	f := &Fake{opts: opts, core: crmfake.New[Request](), shops: map[string]*shopState{}, byToken: map[string]string{}, nextID: 7000000000}
	f.auth = newAuth()
	for shop, token := range opts.Shops {
		f.addShop(shop, token)
	}
	return f
}

// AddShop makes a shop with its access token.
func (f *Fake) AddShop(shop, token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addShop(shop, token)
}

func (f *Fake) addShop(shop, token string) {
	f.shops[shop] = &shopState{domain: shop, available: f.opts.BucketSize, at: f.opts.Now()}
	f.byToken[token] = shop
}

// Start serves a new fake for the test's lifetime; the URL is what SHOPIFY_API_URL takes.
func Start(t testing.TB, opts Options) (*Fake, string) {
	t.Helper()
	f := New(opts)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(func() {
		f.Close()
		srv.Close()
	})
	return f, srv.URL
}

// Close releases hanging calls.
func (f *Fake) Close() { f.core.Close() }

// Inject adds a fault; faults apply in the order injected. A Count below 1 means 1.
func (f *Fake) Inject(fl Fault) { f.core.Inject(fl.generic()) }

// ClearFaults removes every fault not yet used up: the CRM recovers.
func (f *Fake) ClearFaults() { f.core.ClearFaults() }

// SetLatency delays every answer by d.
func (f *Fake) SetLatency(d time.Duration) { f.core.SetLatency(d) }

// AddCustomer seeds a customer (the merchant made it); it is searchable at once.
func (f *Fake) AddCustomer(shop string, c Customer) Customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shops[shop]
	if s == nil {
		panic("shopifytest: unknown shop " + shop)
	}
	f.nextID++
	c.ID = fmt.Sprintf("gid://shopify/Customer/%d", f.nextID)
	if c.Metafields == nil {
		c.Metafields = map[string]Metafield{}
	}
	if c.Tags == nil {
		c.Tags = []string{}
	}
	s.customers = append(s.customers, &c)
	return c.copy()
}

func (c *Customer) copy() Customer {
	out := *c
	out.Tags = append([]string{}, c.Tags...)
	out.indexedTags = append([]string(nil), c.indexedTags...)
	out.Metafields = map[string]Metafield{}
	for k, v := range c.Metafields {
		out.Metafields[k] = v
	}
	return out
}

// Customers returns the shop's customers, oldest first.
func (f *Fake) Customers(shop string) []Customer {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Customer
	if s := f.shops[shop]; s != nil {
		for _, c := range s.customers {
			out = append(out, c.copy())
		}
	}
	return out
}

// Customer returns one customer by id.
func (f *Fake) Customer(shop, id string) (Customer, bool) {
	for _, c := range f.Customers(shop) {
		if c.ID == id {
			return c, true
		}
	}
	return Customer{}, false
}

// Requests returns every GraphQL request so far, in arrival order.
func (f *Fake) Requests() []Request { return f.core.Requests() }

// Available is what the shop's bucket holds now.
func (f *Fake) Available(shop string) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restore(f.shops[shop])
}

// restore brings the bucket up to now; f.mu held.
func (f *Fake) restore(s *shopState) float64 {
	now := f.opts.Now()
	s.available = math.Min(f.opts.BucketSize, s.available+now.Sub(s.at).Seconds()*f.opts.RestoreRate)
	s.at = now
	return s.available
}

func (s *shopState) customer(id string) *Customer {
	for _, c := range s.customers {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func hasTag(tags []string, tag string) bool {
	for _, t := range tags {
		if strings.EqualFold(t, tag) {
			return true
		}
	}
	return false
}

func sortedTags(tags []string) []string {
	sort.Slice(tags, func(i, j int) bool { return strings.ToLower(tags[i]) < strings.ToLower(tags[j]) })
	return tags
}

func writeJSON(w http.ResponseWriter, status int, body any) { crmfake.WriteJSON(w, status, body) }
