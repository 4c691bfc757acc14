package system

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"tiersync/internal/db"
	"tiersync/internal/db/dbtest"
)

// TestCommerce7Outage: while the CRM answers 503, enrollments still succeed (201, pending),
// rows retry with a short backoff (from configuration) without failing, and once the CRM
// is back the backlog drains to one membership per enrollment.
func TestCommerce7Outage(t *testing.T) {
	t.Parallel()
	const enrollments = 50
	url := dbtest.NewURL(t)
	fake := fakeCRM(t)
	ctx := context.Background()
	pool, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	listen := freeAddr(t)
	startReplica(t, []string{
		"DATABASE_URL=" + url, "TIERSYNC_API_TOKEN=" + systemToken,
		"TIERSYNC_SECRET_KEY=" + "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seS0wMTIzNDU=",
		"COMMERCE7_API_URL=" + fake + "/v1", "COMMERCE7_APP_ID=tiersync-demo", "COMMERCE7_KEY=demo-secret",
		// A second of backoff base: attempts at 0, 2, 6, 14 and 30 s, far more than the test
		// needs; no inline wait, so the enrollments come in at once.
		"WORKERS=8", "RETRY_BACKOFF_BASE=1s", "INLINE_SYNC_TIMEOUT=0s", "POLL_INTERVAL=100ms",
		"LISTEN_ADDR=" + listen, "LOG_LEVEL=warn", "SCHEDULE_EXPIRE=off", "SCHEDULE_SYNC=off",
	})
	base := "http://" + listen
	waitReady(t, listen, 30*time.Second)
	api := func(path, body string) (int, map[string]any) { return callAPI(t, base, "POST", path, body) }
	_, client := api("/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa","rate_limit_per_minute":60000}`)
	_, tier := api("/api/clients/"+client["id"].(string)+"/tiers", `{"name":"Gold","rank":1,"duration_months":12,"c7_club_id":"c1ab0000-0000-4000-8000-000000000001","c7_delivery_method":"Pickup","c7_pickup_location_id":"loc-1"}`)

	fault, _ := http.Post(fake+"/_fake/commerce7/faults", "application/json", strings.NewReader(`{"kind":"status","status":503,"count":1000000000}`))
	fault.Body.Close()
	for i := 0; i < enrollments; i++ {
		status, out := api("/api/enrollments", fmt.Sprintf(`{"client_id":%q,"tier_id":%q,"customer":{"email":"m%d@example.com","first_name":"M","last_name":"N"}}`,
			client["id"], tier["id"], i))
		if status != 201 || out["sync"].(map[string]any)["status"] != "pending" {
			t.Fatalf("enrollment %d during the outage: %d %v", i, status, out)
		}
	}
	// Every row has failed at least twice against the outage and waits to retry; none failed.
	waitFor(t, time.Minute, "every row retrying", func() bool {
		return count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE attempts >= 2 AND status = 'pending'`) == enrollments
	})
	if failed := count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status = 'failed'`); failed != 0 {
		t.Fatalf("%d rows failed during the outage", failed)
	}
	if n := count(t, pool, `SELECT count(*) FROM crm_sync_attempts WHERE outcome = 'retry' AND http_status = 503`); n < 2*enrollments {
		t.Fatalf("%d attempts recorded the 503, want at least %d", n, 2*enrollments)
	}
	req, _ := http.NewRequest("DELETE", fake+"/_fake/commerce7/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("recover the fake: %v", err)
	}
	waitFor(t, time.Minute, "the backlog drained", func() bool {
		return count(t, pool, `SELECT count(*) FROM crm_sync_queue WHERE status = 'completed'`) == enrollments
	})
	resp, err := http.Get(fake + "/_fake/commerce7/memberships?tenant=napa")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var state struct{ Memberships []struct{ CustomerID string } }
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil || len(state.Memberships) != enrollments {
		t.Fatalf("%d memberships at the fake (%v), want %d", len(state.Memberships), err, enrollments)
	}
}
