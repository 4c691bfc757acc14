package crmfake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTakeMatchesAndCounts(t *testing.T) {
	cases := []struct {
		name  string
		fault Fault
		calls []Call
		want  string // for each call, whether it took the fault
	}{
		{"any call", Fault{Count: 2}, []Call{{Method: "GET"}, {Method: "POST"}, {Method: "GET"}}, "yyn"},
		{"method in any case", Fault{Method: "post", Count: 5}, []Call{{Method: "GET"}, {Method: "POST"}}, "ny"},
		{"path prefix", Fault{Path: "/club-membership", Count: 5}, []Call{{Path: "/customer"}, {Path: "/club-membership/1"}}, "ny"},
		{"operation exactly", Fault{Operation: "tagsAdd", Count: 5}, []Call{{Operation: "tagsAddX"}, {Operation: "tagsAdd"}}, "ny"},
		{"one scope", Fault{Scope: "sonoma", Count: 5}, []Call{{Scope: "napa"}, {Scope: "sonoma"}}, "ny"},
		{"a count below 1 is 1", Fault{}, []Call{{}, {}}, "yn"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			core := New[string]()
			core.Inject(c.fault)
			var got string
			for _, call := range c.calls {
				if core.Take(call) != nil {
					got += "y"
				} else {
					got += "n"
				}
			}
			if got != c.want {
				t.Fatalf("took %s, want %s", got, c.want)
			}
		})
	}
}

func TestInjectMakesAnUnusableStatusA500(t *testing.T) {
	core := New[string]()
	core.Inject(Fault{Kind: Status})
	if f := core.Take(Call{}); f == nil || f.Status != 500 {
		t.Fatalf("fault %+v, want status 500", f)
	}
}

// TestDeliver: how a decided answer reaches the client under each fault.
func TestDeliver(t *testing.T) {
	cases := []struct {
		name   string
		fault  *Fault
		status int
		header string // Retry-After
		body   string
	}{
		{"no fault", nil, 200, "", "ok"},
		{"status with Retry-After", &Fault{Kind: Status, Status: 429, RetryAfter: 7}, 200, "7", "ok"},
		{"raw body", &Fault{Kind: Status, Status: 503, RawBody: "caf\xc3 \x00"}, 503, "", "caf\xc3 \x00"},
		{"lost answer", &Fault{Kind: LoseAnswer}, 0, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			core := New[string]()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				core.Deliver(w, r, 0, c.fault, func(w http.ResponseWriter) { _, _ = io.WriteString(w, "ok") })
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			if c.status == 0 {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("lost answer: got %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.status || resp.Header.Get("Retry-After") != c.header || string(body) != c.body {
				t.Fatalf("%d Retry-After %q %q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		})
	}
}

// TestDeliverReportsAGiveUp: a client that gives up during the latency, or on a hang,
// gets nothing; the latency case is reported so that the fake logs no status.
func TestDeliverReportsAGiveUp(t *testing.T) {
	for _, c := range []struct {
		name     string
		latency  time.Duration
		fault    *Fault
		answered bool
	}{
		{"latency", time.Hour, nil, false},
		{"hang", 0, &Fault{Kind: Hang}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			core := New[string]()
			result := make(chan bool, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				result <- core.Deliver(w, r, c.latency, c.fault, func(http.ResponseWriter) {})
			}))
			defer srv.Close()
			defer core.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%v, want the client's deadline", err)
			}
			if got := <-result; got != c.answered {
				t.Fatalf("Deliver reported %v, want %v", got, c.answered)
			}
		})
	}
}

func TestControlAPI(t *testing.T) {
	core := New[string]()
	core.Log("first")
	mux := http.NewServeMux()
	core.Register(mux, Control{Prefix: "/_fake/x", Kinds: []KindName{{"status", Status}, {"hang", Hang}, {"odd", Custom}},
		Fault: func(in FaultRequest, kind Kind) Fault {
			return Fault{Scope: in.Tenant, Kind: kind, Status: in.Status, Count: in.Count, Message: in.Message}
		}})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	send := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		answer             string
	}{
		{"POST", "/_fake/x/faults", `{`, 400, "malformed JSON"},
		{"POST", "/_fake/x/faults", `{"kind":"explode"}`, 400, `kind \"explode\": must be status, hang or odd`},
		{"POST", "/_fake/x/faults", `{"kind":"status"}`, 400, "needs an HTTP status"},
		{"POST", "/_fake/x/faults", `{"kind":"status","status":503,"tenant":"napa","count":2,"message":"m"}`, 204, ""},
		{"GET", "/_fake/x/requests", ``, 200, `{"requests":["first"]}`},
	} {
		if status, answer := send(c.method, c.path, c.body); status != c.status || !strings.Contains(answer, c.answer) {
			t.Fatalf("%s %s %s: %d %s, want %d with %s", c.method, c.path, c.body, status, answer, c.status, c.answer)
		}
	}
	if f := core.Take(Call{Scope: "napa"}); f == nil || f.Status != 503 || f.Message != "m" || f.Count != 2 {
		t.Fatalf("fault %+v", f)
	}
	if status, _ := send("DELETE", "/_fake/x/faults", ""); status != 204 || core.Take(Call{Scope: "napa"}) != nil {
		t.Fatalf("DELETE: %d, or a fault left", status)
	}
	if got := fmt.Sprint(New[int]().Requests()); got != "[]" {
		t.Fatalf("an empty log is %s", got)
	}
}
