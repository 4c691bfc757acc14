package c7test

import (
	"net/http/httptest"
	"testing"
)

// Start serves a new fake on a local port for the test's lifetime and returns it with
// its API base URL (…/v1), as COMMERCE7_API_URL takes it.
func Start(t testing.TB, opts Options) (*Fake, string) {
	t.Helper()
	f := New(opts)
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(func() {
		f.Close() // hanging calls first, or Close would wait for them
		srv.Close()
	})
	return f, srv.URL + "/v1"
}
