package web

import (
	"encoding/json"
	"testing"

	"tiersync/internal/queue"
)

func TestMoney(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cents    int64
		currency string
		want     string
	}{{5000, "", "$50.00"}, {123456, "USD", "$1,234.56"}, {-500, "EUR", "-€5.00"}, {7, "GBP", "£0.07"},
		{100000000, "CHF", "1,000,000.00 CHF"}, {-9223372036854775808, "USD", "-$92,233,720,368,547,758.08"}} {
		if got := formatMoney(c.cents, c.currency); got != c.want {
			t.Errorf("formatMoney(%d, %q) = %q, want %q", c.cents, c.currency, got, c.want)
		}
	}
	for in, want := range map[string]int64{"50": 5000, "50.5": 5050, "$1,250.00": 125000, " 0.07 ": 7, ".5": 50} {
		if got, err := parseMoney("amount", in); err != nil || got != want {
			t.Errorf("parseMoney(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-5", "5.001", "five", "1e3", "99999999999999999"} {
		if got, err := parseMoney("amount", bad); err == nil {
			t.Errorf("parseMoney(%q) = %d, want an error", bad, got)
		}
	}
	if got := formAmount(7550); got != "75.50" {
		t.Errorf("formAmount(7550) = %q", got)
	}
	addr := json.RawMessage(`{"address": "1 Vine St", "address2": "", "city": "Napa", "state_code": "CA", "zip_code": "94558", "country_code": "US"}`)
	if got := postal(addr); got != "1 Vine St, Napa, CA 94558, US" {
		t.Errorf("postal = %q", got)
	}
}

// TestNumberAttempts: a reset (attempts given back by an operator) starts the numbers
// again and is marked; a released or throttled try gives its number back and is not a
// reset.
func TestNumberAttempts(t *testing.T) {
	t.Parallel()
	h := []queue.Attempt{{Attempt: 1, Outcome: "retry"}, {Attempt: 2, Outcome: "throttled"}, {Attempt: 2, Outcome: "failed"},
		{Attempt: 1, Outcome: "retry"}, {Attempt: 2, Outcome: "released"}, {Attempt: 2, Outcome: "succeeded"}}
	tries, resets := numberAttempts(h)
	if resets != 1 || len(tries) != 6 {
		t.Fatalf("%d resets, %d tries", resets, len(tries))
	}
	for i, tr := range tries {
		if tr.N != i+1 || tr.AfterReset != (i == 3) {
			t.Errorf("try %d: N %d, after reset %v", i, tr.N, tr.AfterReset)
		}
	}
}
