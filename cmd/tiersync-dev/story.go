package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/crm/commerce7/c7test"
	"tiersync/internal/crm/shopify/shopifytest"
)

// storySize is how much the demo does.
type storySize struct {
	customers, enrollments, orders, imports int
}

func storySizes() map[string]storySize {
	return map[string]storySize{
		"small":  {customers: 40, enrollments: 10, orders: 6, imports: 4},
		"normal": {customers: 200, enrollments: 50, orders: 30, imports: 20},
	}
}

// storySpeed is how long its waits are.
type storySpeed struct {
	outage, backoffBase, poll time.Duration
}

func storySpeeds() map[string]storySpeed {
	return map[string]storySpeed{
		// Backoff is base·2^attempts: a row failing from the outage's start retries at 0.4,
		// 1.2, 2.8 and 6 s (fast) or 10, 30, 70 and 150 s (normal), so its fourth attempt
		// comes after the outage and no row runs out of attempts because of it.
		"fast":   {outage: 2 * time.Second, backoffBase: 200 * time.Millisecond, poll: 100 * time.Millisecond},
		"normal": {outage: 60 * time.Second, backoffBase: 5 * time.Second, poll: time.Second},
	}
}

// The demo's wineries and their CRM credentials (the fakes accept exactly these).
const (
	demoC7Tenant      = "napa-cellars"
	demoC7AppID       = "tiersync-demo"
	demoC7Key         = "demo-secret"
	demoShop          = "vino-demo.myshopify.com"
	demoShopToken     = "shpat_demo_vino"
	demoHookUser      = "c7-webhooks"
	demoHookPassword  = "demo-webhook-password"
	demoShopifySecret = "demo-shopify-webhook-secret"
)

// story plays the demo against a running server: clients and tiers through the API,
// customers, enrollments through the API, orders through the real webhook endpoints, a
// CRM outage and its backlog draining, imported members expiring. It prints as it goes.
type story struct {
	out   io.Writer
	base  string
	token string
	pool  *pgxpool.Pool
	c7    *c7test.Fake
	shop  *shopifytest.Fake
	size  storySize
	speed storySpeed
	http  *http.Client

	clients map[string]string            // crm type → client id
	tiers   map[string]map[string]string // crm type → tier name → id
	// c7Hooks is the Basic auth of the Commerce7 client's own webhook credentials, from
	// its creation answer.
	c7Hooks string
}

func (s *story) say(format string, args ...any) { fmt.Fprintf(s.out, format+"\n", args...) }

func (s *story) call(ctx context.Context, method, path, body string, headers map[string]string) (int, map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func (s *story) api(ctx context.Context, method, path, body string, want int) (map[string]any, error) {
	status, out, err := s.call(ctx, method, path, body, map[string]string{"Authorization": "Bearer " + s.token})
	if err != nil {
		return nil, err
	}
	if status != want {
		return nil, fmt.Errorf("%s %s: HTTP %d %v", method, path, status, out)
	}
	return out, nil
}

func (s *story) run(ctx context.Context) error {
	steps := []struct {
		title string
		do    func(context.Context) error
	}{
		{"Two wineries, three tiers each", s.setup},
		{fmt.Sprintf("%d enrollments through POST /api/enrollments", s.size.enrollments), s.enroll},
		{fmt.Sprintf("A %v CRM outage, with %d orders arriving through the webhooks meanwhile", s.speed.outage, s.size.orders), s.outage},
		{fmt.Sprintf("%d imported members reach the end of their membership", s.size.imports), s.expire},
	}
	for i, st := range steps {
		s.say("\n[%d/%d] %s", i+1, len(steps), st.title)
		if err := st.do(ctx); err != nil {
			return fmt.Errorf("demo step %q: %w", st.title, err)
		}
	}
	return s.summary(ctx)
}

func (s *story) setup(ctx context.Context) error {
	s.clients = map[string]string{}
	s.tiers = map[string]map[string]string{}
	for _, c := range []struct{ crm, body string }{
		{"commerce7", `{"name":"Napa Cellars","crm_type":"commerce7","tenant":"` + demoC7Tenant + `","rate_limit_per_minute":6000}`},
		{"shopify", `{"name":"Vino Shop","crm_type":"shopify","tenant":"` + demoShop + `","shopify_auth":"token","shopify_access_token":"` + demoShopToken + `","shopify_webhook_secret":"` + demoShopifySecret + `","rate_limit_per_minute":6000}`},
	} {
		out, err := s.api(ctx, "POST", "/api/clients", c.body, 201)
		if err != nil {
			return err
		}
		id := out["id"].(string)
		s.clients[c.crm] = id
		if c.crm == "commerce7" {
			user, _ := out["webhook_user"].(string)
			pass, _ := out["webhook_password"].(string)
			s.c7Hooks = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
		}
		s.tiers[c.crm] = map[string]string{}
		for rank, t := range []struct{ name, rule string }{
			{"Silver", `"min_purchase_cents":5000`}, {"Gold", `"min_purchase_cents":15000`}, {"Platinum", `"min_ltv_cents":50000`},
		} {
			mapping := `"c7_club_id":"` + demoClubID(t.name) + `","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-tasting-room"`
			if c.crm == "shopify" {
				mapping = `"shopify_tag":"club-` + strings.ToLower(t.name) + `"`
			}
			out, err := s.api(ctx, "POST", "/api/clients/"+id+"/tiers",
				fmt.Sprintf(`{"name":%q,"rank":%d,"duration_months":12,%s,%s}`, t.name, rank+1, t.rule, mapping), 201)
			if err != nil {
				return err
			}
			s.tiers[c.crm][t.name] = out["id"].(string)
		}
		// Customers the winery already has (no membership yet).
		if _, err := s.pool.Exec(ctx, `INSERT INTO customers (client_id, email, first_name, last_name)
			SELECT $1, 'guest' || g || '@' || $2 || '.example', 'Guest', 'No. ' || g FROM generate_series(1, $3) g`,
			id, strings.Split(c.crm, "")[0]+"winery", s.size.customers/2); err != nil {
			return fmt.Errorf("seed customers: %w", err)
		}
		s.say("  %s (%s): client %s, tiers Silver ($50 order), Gold ($150 order), Platinum ($500 lifetime), %d customers",
			map[string]string{"commerce7": "Napa Cellars", "shopify": "Vino Shop"}[c.crm], c.crm, id, s.size.customers/2)
	}
	return nil
}

func (s *story) enroll(ctx context.Context) error {
	completed := 0
	for i := 0; i < s.size.enrollments; i++ {
		crm := []string{"commerce7", "shopify"}[i%2]
		tier := []string{"Silver", "Gold"}[i%3/2]
		out, err := s.api(ctx, "POST", "/api/enrollments", fmt.Sprintf(
			`{"client_id":%q,"tier_id":%q,"customer":{"email":"member%d@%swinery.example","first_name":"Member","last_name":"No. %d"}}`,
			s.clients[crm], s.tiers[crm][tier], i+1, crm[:1], i+1), 201)
		if err != nil {
			return err
		}
		if out["sync"].(map[string]any)["status"] == "completed" {
			completed++
		}
	}
	s.say("  %d enrolled; %d Commerce7 memberships confirmed inline (the answer carried the CRM's id), the rest left to the workers", s.size.enrollments, completed)
	return s.drain(ctx)
}

// drain waits until no row is pending or processing, saying how the backlog goes.
func (s *story) drain(ctx context.Context) error {
	tick := time.NewTicker(s.speed.poll)
	defer tick.Stop()
	last := time.Time{}
	for deadline := time.Now().Add(10 * time.Minute); ; {
		var open, failed int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status IN ('pending', 'processing')),
			count(*) FILTER (WHERE status = 'failed') FROM crm_sync_queue`).Scan(&open, &failed); err != nil {
			return err
		}
		if open == 0 {
			s.say("  queue drained (%d failed)", failed)
			return nil
		}
		if time.Since(last) >= 5*time.Second {
			s.say("  backlog: %d row(s) pending or processing", open)
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the queue did not drain in 10 minutes (%d open)", open)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (s *story) outage(ctx context.Context) error {
	s.c7.Inject(c7test.Fault{Count: 1 << 30, Kind: c7test.FaultStatus, Status: 503})
	s.shop.Inject(shopifytest.Fault{Count: 1 << 30, Kind: shopifytest.FaultStatus, Status: 503})
	s.say("  both CRMs answer 503 from now on")
	began := time.Now()
	accepted := 0
	for i := 0; i < s.size.orders; i++ {
		total := []int{6000, 18000, 60000}[i%3] // Silver, Gold, and Platinum by lifetime value
		member := i + 1                         // the enrolled members buy again: upgrades and renewals
		var status int
		var out map[string]any
		var err error
		if i%2 == 0 {
			body := fmt.Sprintf(`{"object":"Order","action":"Create","tenantId":%q,"user":"Tasting Room","payload":{"id":"order-%d","total":%d,"orderPaidDate":%q,"updatedAt":%q,"customer":{"email":"member%d@cwinery.example","firstName":"Member","lastName":"No. %d"}}}`,
				demoC7Tenant, i+1, total, time.Now().UTC().Format(time.RFC3339), time.Now().UTC().Format(time.RFC3339Nano), member, member)
			status, out, err = s.call(ctx, "POST", "/webhooks/commerce7", body, map[string]string{
				"Authorization": s.c7Hooks})
		} else {
			body := fmt.Sprintf(`{"id":%d,"email":"member%d@swinery.example","total_price":"%d.%02d","currency":"USD","financial_status":"paid","processed_at":%q,"customer":{"id":%d,"email":"member%d@swinery.example","first_name":"Member","last_name":"No. %d"}}`,
				900000+i, member, total/100, total%100, time.Now().UTC().Format(time.RFC3339), 700000+member, member, member)
			mac := hmac.New(sha256.New, []byte(demoShopifySecret))
			mac.Write([]byte(body))
			status, out, err = s.call(ctx, "POST", "/webhooks/shopify", body, map[string]string{
				"X-Shopify-Hmac-Sha256": base64.StdEncoding.EncodeToString(mac.Sum(nil)), "X-Shopify-Shop-Domain": demoShop,
				"X-Shopify-Topic": "orders/paid", "X-Shopify-Event-Id": fmt.Sprintf("demo-event-%d", i)})
		}
		if err != nil {
			return err
		}
		if status != 200 {
			return fmt.Errorf("order webhook %d: HTTP %d %v", i+1, status, out)
		}
		if out["status"] == "accepted" {
			accepted++
		}
	}
	s.say("  %d order webhooks accepted while the CRMs were down: memberships decided, CRM changes queued", accepted)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(s.speed.outage - time.Since(began)):
	}
	var waiting int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM crm_sync_queue WHERE status = 'pending' AND attempts > 0`).Scan(&waiting); err != nil {
		return err
	}
	s.c7.ClearFaults()
	s.shop.ClearFaults()
	s.say("  the CRMs are back; %d row(s) were waiting to retry", waiting)
	return s.drain(ctx)
}

func (s *story) expire(ctx context.Context) error {
	var ids []string
	for i := 0; i < s.size.imports; i++ {
		crm := []string{"commerce7", "shopify"}[i%2]
		// Imported from the winery's old system: a year's membership that ends tomorrow.
		enrolled := time.Now().UTC().AddDate(-1, 0, 1).Format(time.RFC3339)
		out, err := s.api(ctx, "POST", "/api/enrollments", fmt.Sprintf(
			`{"client_id":%q,"tier_id":%q,"enrolled_at":%q,"customer":{"email":"import%d@%swinery.example","first_name":"Imported","last_name":"No. %d"}}`,
			s.clients[crm], s.tiers[crm]["Silver"], enrolled, i+1, crm[:1], i+1), 201)
		if err != nil {
			return err
		}
		ids = append(ids, out["enrollment"].(map[string]any)["id"].(string))
	}
	s.say("  %d members imported with enrolled_at a year ago; their memberships end tomorrow", len(ids))
	if err := s.drain(ctx); err != nil {
		return err
	}
	// A demo cannot wait a day: their end moves to a second ago.
	if _, err := s.pool.Exec(ctx, `UPDATE enrollments SET expires_at = now() - interval '1 second' WHERE id = ANY($1::uuid[])`, ids); err != nil {
		return err
	}
	s.say("  (the demo moves their end to now instead of waiting a day)")
	out, err := s.api(ctx, "POST", "/api/cron", `{"action":"trigger","job":"process-expired-enrollments"}`, 200)
	if err != nil {
		return err
	}
	s.say("  the nightly job, run now: %v expired, %v cancellations queued", out["expired"], out["queued"])
	return s.drain(ctx)
}

func (s *story) summary(ctx context.Context) error {
	var b bytes.Buffer
	fmt.Fprintln(&b, "\nSummary")
	fmt.Fprintln(&b, "=======")
	rows, err := s.pool.Query(ctx, `SELECT s, (SELECT count(*) FROM crm_sync_queue WHERE status = s)
		FROM unnest(ARRAY['pending','processing','completed','failed','cancelled']) s`)
	if err != nil {
		return err
	}
	var parts []string
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return err
		}
		parts = append(parts, fmt.Sprintf("%s %d", st, n))
	}
	rows.Close()
	fmt.Fprintf(&b, "queue rows:      %s\n", strings.Join(parts, ", "))
	var active, expired, upgraded int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'active'), count(*) FILTER (WHERE status = 'expired'),
		count(*) FILTER (WHERE status = 'upgraded') FROM enrollments`).Scan(&active, &expired, &upgraded); err != nil {
		return err
	}
	fmt.Fprintf(&b, "enrollments:     active %d, upgraded %d, expired %d\n", active, upgraded, expired)
	c7 := map[string]int{}
	for _, m := range s.c7.Memberships(demoC7Tenant, "") {
		c7[demoClubName(m.ClubID)+" "+strings.ToLower(m.Status)]++
	}
	fmt.Fprintf(&b, "Commerce7 fake:  %s\n", counts(c7))
	tags := map[string]int{}
	for _, c := range s.shop.Customers(demoShop) {
		for _, t := range c.Tags {
			tags["tag "+t]++
		}
	}
	fmt.Fprintf(&b, "Shopify fake:    %s (customers per tag)\n", counts(tags))
	_, err = s.out.Write(b.Bytes())
	return err
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// demoClubID is the Commerce7 club of the demo's tier: a UUID, as Commerce7's ids are (the
// API refuses anything else), fixed so that a demo's fake state reads the same each run.
func demoClubID(tier string) string {
	switch tier {
	case "Silver":
		return "5a1e7000-0000-4000-8000-000000000001"
	case "Gold":
		return "5a1e7000-0000-4000-8000-000000000002"
	}
	return "5a1e7000-0000-4000-8000-000000000003" // Platinum
}

// demoClubName names a demo club in the summary as its tier does ("club-silver"): a UUID
// says nothing to someone reading the demo.
func demoClubName(id string) string {
	for _, tier := range []string{"Silver", "Gold", "Platinum"} {
		if demoClubID(tier) == id {
			return "club-" + strings.ToLower(tier)
		}
	}
	return id
}
