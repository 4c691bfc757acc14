package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"tiersync/internal/authlimit"
)

type ctxKey int

const (
	keyLogger ctxKey = iota
	keyRequestID
)

// logger returns the request's logger (with its request id), or the default one.
func logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// A caller's X-Request-Id is kept when it is short and plain, so a request can be followed
// from a load balancer's log into ours; anything else is replaced.
var requestIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand does not fail on Linux
	return hex.EncodeToString(b)
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an id and a logger, recovers panics, and logs one line per
// request with its route pattern, status and duration.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDRe.MatchString(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		// Every answer is JSON, a probe's text or an admin page with its own type: never
		// let a browser guess another.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		l := s.log.With(slog.String("request_id", id))
		ctx := context.WithValue(context.WithValue(r.Context(), keyRequestID, id), keyLogger, l)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		_, route := s.mux.Handler(r)

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				l.ErrorContext(ctx, "panic", slog.String("panic", fmt.Sprint(p)), slog.String("stack", string(debug.Stack())))
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "internal error; see the server log for request "+id)
				}
			}
			if route == "" {
				route = "unmatched"
			}
			level := slog.LevelInfo
			if sw.status >= 500 {
				level = slog.LevelError
			}
			// Probes and scrapes are frequent and uninteresting while they succeed.
			if (route == "GET /healthz" || route == "GET /readyz" || route == "GET /metrics") && sw.status < 400 {
				level = slog.LevelDebug
			}
			if s.opts.ObserveRequest != nil {
				s.opts.ObserveRequest(route, sw.status, time.Since(start))
			}
			l.Log(ctx, level, "http request",
				slog.String("method", r.Method), slog.String("path", truncate(r.URL.Path, maxLoggedPath)), slog.String("route", route),
				slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000))
		}()
		next.ServeHTTP(sw, r)
	})
}

// maxLoggedPath caps the path in a request's log line: a path is the caller's text, and a
// long one would otherwise cost a log line of its size on every request.
const maxLoggedPath = 256

// truncate cuts s to at most n bytes on a character boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// withDeadline gives every request a deadline (none when d is 0); the queries it runs
// are cancelled when it passes, and fail answers 503.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// limitBody caps every request body at maxBody; reading past it fails with
// *http.MaxBytesError, which the handlers answer with 413.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// requireToken guards /api/* with the bearer token. Both sides are hashed before the
// constant-time compare so that neither the token's bytes nor its length leak through
// timing. An address that keeps sending wrong tokens is answered 429 before any compare
// (limits holds the count; nil: no limit).
func requireToken(token string, limits *authlimit.Limiter, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := authlimit.ClientKey(r)
		if limits != nil {
			if ok, wait := limits.Allow(key); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)))
				writeError(w, http.StatusTooManyRequests, "too many wrong tokens from this address; try again after Retry-After seconds")
				return
			}
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || token == "" || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			if limits != nil {
				limits.Fail(key)
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="tiersync"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token: send Authorization: Bearer <TIERSYNC_API_TOKEN>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// timedOut reports whether err came from the request's deadline or the database's
// statement_timeout (SQLSTATE 57014, query_canceled), both of which answer 503.
func timedOut(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "57014"
}
