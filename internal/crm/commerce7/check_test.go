package commerce7_test

import (
	"context"
	"testing"
	"time"

	"tiersync/internal/crm"
	"tiersync/internal/crm/commerce7"
	"tiersync/internal/crm/commerce7/c7test"
)

// TestCheck: one GET /customer read with the app's credentials and the tenant, one rate
// token; wrong credentials, an unknown tenant and a CRM in trouble each come back as the
// CRM's error, never a success.
func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		key    string
		tenant string
		fault  *c7test.Fault
		class  crm.Class
		status int
		msg    string
	}{
		{name: "good credentials", key: secret, tenant: tenant},
		{name: "a wrong key", key: "wrong", tenant: tenant, class: crm.Permanent, status: 401, msg: "Invalid credentials"},
		{name: "an unknown tenant", key: secret, tenant: "nobody", class: crm.Permanent, status: 401, msg: "Invalid tenant"},
		{name: "commerce7 down", key: secret, tenant: tenant, fault: &c7test.Fault{Path: "/customer", Count: 1, Kind: c7test.FaultStatus, Status: 503},
			class: crm.Retryable, status: 503, msg: "injected"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			lim := &countingLimiter{}
			fake, url := c7test.Start(t, c7test.Options{AppID: appID, AppSecret: secret, Tenants: []string{tenant}, RateLimit: -1})
			if c.fault != nil {
				fake.Inject(*c.fault)
			}
			cl, err := commerce7.New(commerce7.Config{BaseURL: url, AppID: appID, Key: c.key, Timeout: 5 * time.Second, Limiter: lim})
			if err != nil {
				t.Fatal(err)
			}
			err = cl.Provider("client-1", c.tenant).Check(context.Background())
			if c.msg == "" && err != nil {
				t.Fatalf("check: %v", err)
			}
			if c.msg != "" {
				wantErr(t, err, c.class, c.status, c.msg)
			}
			reqs := fake.Requests()
			if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Path != "/customer" || reqs[0].Tenant != c.tenant {
				t.Fatalf("requests %+v, want one GET /customer for the tenant", reqs)
			}
			if lim.n.Load() != 1 || lim.client.Load() != "client-1" {
				t.Fatalf("%d rate tokens taken (client %v), want 1 of client-1", lim.n.Load(), lim.client.Load())
			}
		})
	}
}
