package commerce7

import (
	"encoding/json"
	"strings"
	"testing"
	"tiersync/internal/apperr/apperrtest"
	"time"
)

func hook(object, action, user, payload string) Webhook {
	return Webhook{Object: object, Action: action, Payload: json.RawMessage(payload), TenantID: "napa", User: json.RawMessage(user)}
}

// TestMembershipWebhook: what a Club Membership webhook parses into, and what it refuses.
func TestMembershipWebhook(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	full := `{"id":"m1","customerId":"c1","clubId":"club-gold","status":"Active","signupDate":"2026-11-01T00:00:00.000Z","updatedAt":"u1",
		"customer":{"emails":[{"email":"ada@example.com"}],"firstName":"Ada"}}`
	cases := []struct {
		name      string
		h         Webhook
		ok        bool
		err       string // a substring of the 400, or ""
		cancelled bool
		eventID   string
	}{
		{"active", hook("Club Membership", "Create", `"Winery Staff"`, full), true, "", false, "club-membership:m1:Create:u1"},
		{"cancelled status", hook("Club Membership", "Update", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","status":"Cancelled","updatedAt":"u2"}`), true, "", true, "club-membership:m1:Update:u2"},
		{"status in another case", hook("Club Membership", "Update", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","status":"cancelled"}`), true, "", true, "club-membership:m1:Update:"},
		{"cancel date past", hook("Club Membership", "Update", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","status":"Active","cancelDate":"2026-11-19"}`), true, "", true, "club-membership:m1:Update:"},
		{"cancel date ahead", hook("Club Membership", "Update", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","status":"Active","cancelDate":"2026-12-19T00:00:00Z"}`), true, "", false, "club-membership:m1:Update:"},
		{"deleted: only the id", hook("Club Membership", "Delete", `"x"`, `{"id":"m1"}`), true, "", true, "club-membership:m1:Delete:"},
		{"our own echo", hook("Club Membership", "Create", `"tiersync-app"`, full), false, "", false, ""},
		{"an order", hook("Order", "Create", `"x"`, full), false, "", false, ""},
		{"no id", hook("Club Membership", "Create", `"x"`, `{"customerId":"c1","clubId":"k"}`), false, "payload.id is required", false, ""},
		{"no club", hook("Club Membership", "Create", `"x"`, `{"id":"m1","customerId":"c1"}`), false, "clubId are required", false, ""},
		{"no payload", hook("Club Membership", "Create", `"x"`, `null`), false, "payload is required", false, ""},
		{"bad signup date", hook("Club Membership", "Create", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","signupDate":"last week"}`), false, "signupDate", false, ""},
		{"long updatedAt", hook("Club Membership", "Create", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","updatedAt":"`+strings.Repeat("u", 65)+`"}`), false, "updatedAt", false, ""},
		{"long status", hook("Club Membership", "Create", `"x"`, `{"id":"m1","customerId":"c1","clubId":"k","status":"`+strings.Repeat("s", 65)+`"}`), false, "status", false, ""},
		{"long action", hook("Club Membership", strings.Repeat("a", 65), `"x"`, full), false, "action", false, ""},
		{"wrong types", hook("Club Membership", "Create", `"x"`, `{"id":1}`), false, "payload", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, ok, err := c.h.Membership("tiersync-app")
			apperrtest.ClientError(t, err)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || ok != c.ok {
				t.Fatalf("ok %v err %v, want ok %v", ok, err, c.ok)
			}
			if !ok {
				return
			}
			if m.Cancelled(now) != c.cancelled || m.EventID() != c.eventID {
				t.Fatalf("cancelled %v event %q, want %v %q (%+v)", m.Cancelled(now), m.EventID(), c.cancelled, c.eventID, m)
			}
		})
	}
	m, _, _ := hook("Club Membership", "Create", `"x"`, full).Membership("")
	if m.Email != "ada@example.com" || m.FirstName != "Ada" || m.SignupDate == nil || !m.SignupDate.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) ||
		m.Topic() != "Club Membership/Create" {
		t.Fatalf("%+v", m)
	}
}

// TestOrderRefundsAndVoids: the plausible shapes of a refund and of a cancelled or
// deleted order (Commerce7's are not documented where we could read them).
func TestOrderRefundsAndVoids(t *testing.T) {
	paid := `"orderPaidDate":"2026-11-20T10:00:00Z"`
	cases := []struct {
		name         string
		action, body string
		err          string
		refund, void bool
		total        int64
		refundOf     string
	}{
		{"a sale", "Create", `{"id":"o1","total":6000,` + paid + `}`, "", false, false, 6000, ""},
		{"type Refund, positive total", "Create", `{"id":"r1","type":"Refund","total":2500,"linkedOrderId":"o1"}`, "", true, false, 2500, "o1"},
		{"purchaseType refund, negative total", "Create", `{"id":"r1","purchaseType":"refund","total":-2500,"refundedOrderId":"o1"}`, "", true, false, 2500, "o1"},
		{"negative total, paid", "Create", `{"id":"r1","total":-2500,` + paid + `}`, "", true, false, 2500, ""},
		{"negative total, payment status Refunded", "Create", `{"id":"r1","total":-2500,"paymentStatus":"Refunded"}`, "", true, false, 2500, ""},
		{"negative total, nothing else", "Create", `{"id":"r1","total":-2500}`, "non-negative", false, false, 0, ""},
		{"negative total beyond the cap", "Create", `{"id":"r1","type":"Refund","total":-10000000001}`, "more than", false, false, 0, ""},
		{"original refunded: still a sale (the refund order carries the amount)", "Update", `{"id":"o1","total":6000,"paymentStatus":"Refunded",` + paid + `}`, "", false, false, 6000, ""},
		{"cancelled", "Update", `{"id":"o1","total":6000,"paymentStatus":"Cancelled"}`, "", false, true, 6000, ""},
		{"voided status", "Update", `{"id":"o1","total":6000,"status":"Voided"}`, "", false, true, 6000, ""},
		{"deleted: only the id", "Delete", `{"id":"o1"}`, "", false, true, 0, ""},
		{"deleted without an id", "Delete", `{}`, "payload.id is required", false, false, 0, ""},
		{"a link too long to be an id is dropped", "Create", `{"id":"r1","type":"Refund","total":1,"linkedOrderId":"` + strings.Repeat("x", 65) + `"}`, "", true, false, 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, ok, err := hook("Order", c.action, `"x"`, c.body).Order("")
			apperrtest.ClientError(t, err)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || !ok {
				t.Fatalf("ok %v err %v", ok, err)
			}
			if o.Refund != c.refund || o.Void != c.void || o.TotalCents != c.total || o.RefundOf != c.refundOf {
				t.Fatalf("%+v", o)
			}
		})
	}
}

// FuzzCommerce7Membership feeds the Club Membership payload parser what a caller could
// send: no panic, a client error for what it refuses, and an id and bounded dedupe key
// for what it accepts.
func FuzzCommerce7Membership(f *testing.F) {
	for _, s := range []string{
		`{"id":"m1","customerId":"c1","clubId":"k","status":"Active","signupDate":"2026-11-01T00:00:00Z","updatedAt":"u"}`,
		`{"id":"m1"}`, `{"id":1}`, `null`, `[]`, `{"id":"m1","customerId":"c1","clubId":"k","cancelDate":"2026-11-01"}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, payload []byte, deleted bool) {
		m, err := parseMembership(json.RawMessage(payload), deleted)
		apperrtest.ClientError(t, err)
		if err == nil && (m.ID == "" || len(m.UpdatedAt) > maxVersionBytes || !deleted && (m.CustomerCRMID == "" || m.ClubID == "")) {
			t.Fatalf("accepted %+v", m)
		}
	})
}
