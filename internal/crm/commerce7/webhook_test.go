package commerce7

import (
	"encoding/json"
	"strings"
	"testing"

	"tiersync/internal/apperr/apperrtest"
	"tiersync/internal/crm"
)

// FuzzCommerce7Order feeds the Order payload parser what a caller could send. It must
// never panic; what it refuses is a client error; what it accepts has an id, a total in
// range and a version that fits its unique index. `make fuzz` explores it.
func FuzzCommerce7Order(f *testing.F) {
	for _, s := range []string{
		`{"id":"o1","total":6000,"orderPaidDate":"2026-11-20T10:00:00Z","updatedAt":"u","customer":{"email":"a@b.co"}}`,
		`{"id":"o1","total":"6000"}`, `{"id":"","total":1}`, `{"total":-1}`, `null`, `[]`, `{"id":"x","total":1e3}`,
		`{"id":"x","total":99999999999999999999}`, `{"id":"x","total":1,"orderPaidDate":"yesterday"}`,
		`{"id":"x","total":10000000000}`, `{"id":"x","total":10000000001}`, `{"id":"x","total":1,"updatedAt":"` + strings.Repeat("u", 65) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		o, err := parseOrder(json.RawMessage(payload))
		apperrtest.ClientError(t, err)
		if err == nil && (o.CRMOrderID == "" || o.TotalCents < 0 || o.TotalCents > crm.MaxOrderCents || len(o.UpdatedAt) > maxVersionBytes) {
			t.Fatalf("accepted an order without an id, with a total out of range or an overlong version: %+v", o)
		}
	})
}
