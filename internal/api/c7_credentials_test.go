package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"tiersync/internal/api"
)

func basicAuth(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

// makeLegacy turns a client into one made before per-client webhook credentials, as the
// migration leaves every client that existed before it.
func (h *harness) makeLegacy(clientID string) {
	h.t.Helper()
	if _, err := h.pool.Exec(context.Background(),
		`UPDATE clients SET webhook_user = NULL, webhook_password_hash = NULL WHERE id = $1`, clientID); err != nil {
		h.t.Fatal(err)
	}
}

// lockedBuffer is a log sink the server's goroutines write while the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestCreatedClientShowsWebhookCredentialsOnce: a Commerce7 client's creation answer
// carries its webhook pair; no GET shows it again, and the database holds only the
// password's SHA-256.
func TestCreatedClientShowsWebhookCredentialsOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	status, c7 := h.do("POST", "/api/clients", `{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`)
	if status != 201 {
		t.Fatalf("create: %d %v", status, c7)
	}
	user, _ := c7["webhook_user"].(string)
	pass, _ := c7["webhook_password"].(string)
	if user == "" || len(pass) < 40 || c7["webhook_auth"] != "own" {
		t.Fatalf("creation answer %v: want webhook_user, a long webhook_password and webhook_auth own", c7)
	}
	status, sh := h.do("POST", "/api/clients", `{"name":"Vino","crm_type":"shopify","tenant":"vino.myshopify.com","shopify_access_token":"shpat_x","shopify_webhook_secret":"whsec_test"}`)
	if status != 201 {
		t.Fatalf("create shopify: %d %v", status, sh)
	}
	if _, has := sh["webhook_user"]; has || sh["webhook_auth"] != nil {
		t.Fatalf("a shopify client has no webhook credentials: %v", sh)
	}

	status, list := h.do("GET", "/api/clients", "")
	if status != 200 {
		t.Fatalf("list: %d %v", status, list)
	}
	items := list["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("list %v", list)
	}
	for _, it := range items {
		c := it.(map[string]any)
		for _, secret := range []string{"webhook_user", "webhook_password", "webhook_password_hash"} {
			if _, has := c[secret]; has {
				t.Errorf("GET /api/clients shows %s: %v", secret, c)
			}
		}
	}

	var stored []byte
	var inClear int
	err := h.pool.QueryRow(context.Background(), `SELECT webhook_password_hash,
		(SELECT count(*) FROM clients c WHERE strpos(row_to_json(c)::text, $2) > 0)
		FROM clients WHERE id = $1`, c7["id"], pass).Scan(&stored, &inClear)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(pass)); !bytes.Equal(stored, want[:]) || inClear != 0 {
		t.Fatalf("stored hash %x (want the password's SHA-256), rows holding the password in clear: %d", stored, inClear)
	}
}

// TestCommerce7WebhookCredentialsPerWinery: a webhook is accepted only with the pair of the
// client its tenantId names; the global pair serves only legacy clients, with a
// deprecation warning. A refused webhook writes nothing.
func TestCommerce7WebhookCredentialsPerWinery(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) {
		o.Webhooks = api.Webhooks{Commerce7User: hookUser, Commerce7Password: hookPass}
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	pair := map[string][2]string{}
	for _, tenant := range []string{"napa", "sonoma", "oldvines"} {
		status, c := h.do("POST", "/api/clients", `{"name":"`+tenant+`","crm_type":"commerce7","tenant":"`+tenant+`"}`)
		if status != 201 {
			t.Fatalf("create %s: %d %v", tenant, status, c)
		}
		pair[tenant] = [2]string{c["webhook_user"].(string), c["webhook_password"].(string)}
		if tenant == "oldvines" {
			h.makeLegacy(c["id"].(string))
		}
	}
	order := func(tenant, id string) string {
		return `{"object":"Order","action":"Create","tenantId":"` + tenant + `","user":"Staff","payload":{"id":"` + id +
			`","total":6000,"orderPaidDate":"2026-11-20T10:00:00Z","updatedAt":"u1",` + ada + `}}`
	}
	napa, sonoma, old := pair["napa"], pair["sonoma"], pair["oldvines"]
	cases := []struct {
		name    string
		tenant  string
		auth    map[string]string
		status  int
		warning bool
	}{
		{"a winery's own pair", "napa", basicAuth(napa[0], napa[1]), 200, false},
		{"a winery's pair for another tenant", "sonoma", basicAuth(napa[0], napa[1]), 401, false},
		{"the right user with another winery's password", "sonoma", basicAuth(sonoma[0], napa[1]), 401, false},
		{"the global pair for a winery with its own", "napa", basicAuth(hookUser, hookPass), 401, false},
		{"no auth", "napa", nil, 401, false},
		{"an empty password", "napa", basicAuth(napa[0], ""), 401, false},
		{"a legacy winery with the global pair", "oldvines", basicAuth(hookUser, hookPass), 200, true},
		{"a legacy winery with a wrong password", "oldvines", basicAuth(hookUser, "nope"), 401, false},
		{"a legacy winery with another winery's pair", "oldvines", basicAuth(napa[0], napa[1]), 401, false},
		{"a legacy winery's cleared pair", "oldvines", basicAuth(old[0], old[1]), 401, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, logged := h.count("webhook_events"), len(logs.String())
			status, body := h.doWith("POST", "/webhooks/commerce7", order(c.tenant, "o"+string(rune('a'+i))), c.auth)
			if status != c.status {
				t.Fatalf("%d %v, want %d", status, body, c.status)
			}
			wrote := h.count("webhook_events") - before
			if (status == 200) != (wrote == 1) || wrote > 1 {
				t.Fatalf("status %d wrote %d webhook events", status, wrote)
			}
			warned := strings.Contains(logs.String()[logged:], "deprecated")
			if warned != c.warning {
				t.Fatalf("deprecation warning logged: %v, want %v; log:\n%s", warned, c.warning, logs.String()[logged:])
			}
		})
	}
}

// TestRotateWebhookCredentials: a rotation answers a new pair once; the old pair (or, for
// a legacy client, the global pair) is refused from then on.
func TestRotateWebhookCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *api.Options, _ *pgxpool.Pool) {
		o.Webhooks = api.Webhooks{Commerce7User: hookUser, Commerce7Password: hookPass}
	})
	create := func(body string) map[string]any {
		t.Helper()
		status, c := h.do("POST", "/api/clients", body)
		if status != 201 {
			t.Fatalf("create: %d %v", status, c)
		}
		return c
	}
	napa := create(`{"name":"Napa","crm_type":"commerce7","tenant":"napa"}`)
	old := create(`{"name":"Old Vines","crm_type":"commerce7","tenant":"oldvines"}`)
	h.makeLegacy(old["id"].(string))
	shop := create(`{"name":"Vino","crm_type":"shopify","tenant":"vino.myshopify.com","shopify_access_token":"shpat_x","shopify_webhook_secret":"whsec_test"}`)
	n := 0
	post := func(tenant string, auth map[string]string) int {
		t.Helper()
		n++
		status, _ := h.doWith("POST", "/webhooks/commerce7", `{"object":"Order","action":"Create","tenantId":"`+tenant+
			`","user":"Staff","payload":{"id":"o`+string(rune('a'+n))+`","total":100,"updatedAt":"u1",`+ada+`}}`, auth)
		return status
	}
	rotate := func(id string) (int, map[string]any) {
		t.Helper()
		return h.do("POST", "/api/clients/"+id+"/webhook-credentials", "")
	}

	status, rotated := rotate(napa["id"].(string))
	if status != 200 || rotated["id"] != napa["id"] || rotated["webhook_auth"] != "own" ||
		rotated["webhook_user"] == nil || rotated["webhook_user"] == napa["webhook_user"] || rotated["webhook_password"] == napa["webhook_password"] {
		t.Fatalf("rotate: %d %v", status, rotated)
	}
	if got := post("napa", basicAuth(napa["webhook_user"].(string), napa["webhook_password"].(string))); got != 401 {
		t.Fatalf("the old pair after a rotation: %d, want 401", got)
	}
	if got := post("napa", basicAuth(rotated["webhook_user"].(string), rotated["webhook_password"].(string))); got != 200 {
		t.Fatalf("the new pair: %d, want 200", got)
	}

	if got := post("oldvines", basicAuth(hookUser, hookPass)); got != 200 {
		t.Fatalf("a legacy client with the global pair before its rotation: %d, want 200", got)
	}
	status, oldRotated := rotate(old["id"].(string))
	if status != 200 || oldRotated["webhook_auth"] != "own" {
		t.Fatalf("rotate a legacy client: %d %v", status, oldRotated)
	}
	if got := post("oldvines", basicAuth(hookUser, hookPass)); got != 401 {
		t.Fatalf("the global pair after the legacy client's rotation: %d, want 401", got)
	}
	if got := post("oldvines", basicAuth(oldRotated["webhook_user"].(string), oldRotated["webhook_password"].(string))); got != 200 {
		t.Fatalf("the legacy client's new pair: %d, want 200", got)
	}

	status, got := h.do("GET", "/api/clients", "")
	if listed := fmt.Sprint(got); status != 200 || strings.Contains(listed, "webhook_password") || strings.Contains(listed, "webhook_user") {
		t.Fatalf("GET after rotations shows credentials: %v", got)
	}

	cases := []struct {
		name, path string
		headers    map[string]string
		status     int
		msg        string
	}{
		{"a shopify client", "/api/clients/" + shop["id"].(string) + "/webhook-credentials", nil, 422, "only Commerce7 clients"},
		{"an unknown client", "/api/clients/00000000-0000-4000-8000-000000000000/webhook-credentials", nil, 404, "not found"},
		{"a malformed id", "/api/clients/abc/webhook-credentials", nil, 400, "UUID"},
		{"no token", "/api/clients/" + napa["id"].(string) + "/webhook-credentials", map[string]string{}, 401, "bearer token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var status int
			var body map[string]any
			if c.headers != nil {
				status, body = h.doWith("POST", c.path, "", c.headers)
			} else {
				status, body = h.do("POST", c.path, "")
			}
			if status != c.status || !strings.Contains(fmt.Sprint(body["error"]), c.msg) {
				t.Fatalf("%d %v, want %d with %q", status, body, c.status, c.msg)
			}
		})
	}
	// The refused rotations changed nothing: the last pair still works.
	if got := post("napa", basicAuth(rotated["webhook_user"].(string), rotated["webhook_password"].(string))); got != 200 {
		t.Fatalf("the pair after refused rotations: %d, want 200", got)
	}
}
