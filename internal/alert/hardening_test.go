package alert

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// secretPath is the part of a Slack webhook URL that is the secret.
const secretPath = "/services/T0000/B0000/S3cr3tS3cr3t"

// syncBuffer is a log sink safe for the alerter's logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDeliveryErrorHidesURL: the alert URL is a secret; a delivery that fails must not
// put it in the returned error nor in the log, whatever failed.
func TestDeliveryErrorHidesURL(t *testing.T) {
	// A port nobody listens on: the connection is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	// A webhook that never answers, until the test ends.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer hang.Close()
	defer close(release) // before Close, which waits for the handler

	cases := []struct {
		name   string
		url    string
		client *http.Client
	}{
		{"connection refused", closed + secretPath, nil},
		{"timeout", hang.URL + secretPath, &http.Client{Timeout: 50 * time.Millisecond}},
		{"unparsable URL", "http://hooks.example.com" + secretPath + "/%zz", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.row(t, "failed", "boom", time.Now())
			var logs syncBuffer
			a := New(w.pool, Config{URL: tc.url, HTTP: tc.client, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			_, err := a.Check(context.Background())
			if err == nil {
				t.Fatal("the delivery did not fail")
			}
			if strings.Contains(err.Error(), "S3cr3t") || strings.Contains(err.Error(), "/services/") {
				t.Errorf("the error shows the URL: %v", err)
			}
			if strings.Contains(logs.String(), "S3cr3t") || strings.Contains(logs.String(), "/services/") {
				t.Errorf("the log shows the URL: %s", logs.String())
			}
			if !strings.Contains(logs.String(), "alert not delivered") {
				t.Errorf("the failure was not logged: %s", logs.String())
			}
		})
	}
}

// TestDeliveryNeverFollowsRedirects: a 307 from the webhook must not send the alert (nor
// anything) to the host it points at, with our client or the caller's.
func TestDeliveryNeverFollowsRedirects(t *testing.T) {
	cases := []struct {
		name   string
		client func() *http.Client
	}{
		{"own client", func() *http.Client { return nil }},
		{"caller's client", func() *http.Client { return &http.Client{Timeout: 5 * time.Second} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			other := &receiver{}
			otherSrv := httptest.NewServer(other)
			defer otherSrv.Close()
			redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, otherSrv.URL+"/elsewhere", http.StatusTemporaryRedirect)
			}))
			defer redirector.Close()

			w := newWorld(t)
			w.row(t, "failed", "boom", time.Now())
			hc := tc.client()
			a := New(w.pool, Config{URL: redirector.URL + secretPath, HTTP: hc, Logger: slog.New(slog.DiscardHandler)})
			sent, err := a.Check(context.Background())
			if err == nil || len(sent) != 0 || !strings.Contains(err.Error(), "redirect") || strings.Contains(err.Error(), "S3cr3t") {
				t.Fatalf("sent %v, err %v: want a failed delivery naming the redirect, without the URL", sent, err)
			}
			if got := other.got(); len(got) != 0 {
				t.Fatalf("the redirect was followed: the other host got %q", got)
			}
			if hc != nil && hc.CheckRedirect != nil {
				t.Fatal("the caller's client was changed")
			}
		})
	}
}
