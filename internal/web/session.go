package web

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A session is a cookie "expiry.nonce.mac" and a row in admin_sessions.
//
// The MAC key is derived with HKDF from TIERSYNC_SECRET_KEY, which never leaves the
// server, rather than from the API token, which operators paste and scripts hold. The
// HKDF info carries a hash of the API token, so changing TIERSYNC_API_TOKEN still logs
// every session out, and the label keeps this key apart from the key's other use
// (encrypting stored CRM tokens).
//
// The MAC alone cannot be taken back, so each session also has a row, keyed by a hash of
// its nonce, made at login, deleted at logout and looked up (by primary key) on every
// request: logging out ends the cookie on every replica at once. A row rather than a
// list of revoked nonces, so that anything that loses rows logs people out instead of
// letting a revoked cookie back in. Expired rows are deleted at each login: there are
// only as many rows as logins in the last sessionTTL.
//
// The CSRF token of a session is a second MAC over its nonce: forms carry it, and every
// POST must present the session's.
const (
	cookieName = "tiersync_admin"
	sessionTTL = 12 * time.Hour
	// sessionInfo is the HKDF label: a new version of the cookie's format takes a new
	// label, so old cookies simply stop verifying.
	sessionInfo = "tiersync admin session v1"
)

type sessions struct {
	key    []byte
	token  string
	pool   *pgxpool.Pool
	secure bool
	now    func() time.Time
}

func newSessions(secretKey []byte, token string, pool *pgxpool.Pool, secure bool, now func() time.Time) (*sessions, error) {
	if len(secretKey) < 32 {
		return nil, fmt.Errorf("web: SecretKey (TIERSYNC_SECRET_KEY) must be at least 32 bytes, got %d", len(secretKey))
	}
	if pool == nil {
		return nil, errors.New("web: Pool required (sessions are kept in admin_sessions)")
	}
	th := sha256.Sum256([]byte(token))
	key, err := hkdf.Key(sha256.New, secretKey, nil, sessionInfo+"\x00api token sha256 "+hex.EncodeToString(th[:]), sha256.Size)
	if err != nil {
		return nil, fmt.Errorf("web: derive the session key: %w", err)
	}
	return &sessions{key: key, token: token, pool: pool, secure: secure, now: now}, nil
}

func (s *sessions) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strings.Join(parts, "|")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkToken compares a login attempt with the API token in constant time (both hashed,
// so neither length nor bytes leak).
func (s *sessions) checkToken(given string) bool {
	a := sha256.Sum256([]byte(given))
	b := sha256.Sum256([]byte(s.token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && s.token != ""
}

// rowID is a session's key in admin_sessions.
func rowID(nonce string) []byte {
	h := sha256.Sum256([]byte(nonce))
	return h[:]
}

// start records a new session and sets its cookie.
func (s *sessions) start(ctx context.Context, w http.ResponseWriter) error {
	var n [16]byte
	_, _ = rand.Read(n[:]) // crypto/rand.Read does not fail (it crashes the program instead)
	nonce := hex.EncodeToString(n[:])
	now := s.now()
	expires := now.Add(sessionTTL)
	_, err := s.pool.Exec(ctx, sqlSessionStart, pgx.StrictNamedArgs{"id": rowID(nonce), "expires_at": expires, "now": now})
	if err != nil {
		return fmt.Errorf("record the admin session: %w", err)
	}
	exp := strconv.FormatInt(expires.Unix(), 10)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: exp + "." + nonce + "." + s.mac("session", exp, nonce),
		Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secure, MaxAge: int(sessionTTL.Seconds())})
	return nil
}

// end deletes the session's row, so that its cookie stops working everywhere, and tells
// the browser to forget the cookie.
func (s *sessions) end(ctx context.Context, w http.ResponseWriter, nonce string) error {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure, MaxAge: -1})
	if _, err := s.pool.Exec(ctx, sqlSessionEnd, pgx.StrictNamedArgs{"id": rowID(nonce)}); err != nil {
		return fmt.Errorf("end the admin session: %w", err)
	}
	return nil
}

// current returns the request's session nonce, or "" when it has no valid session. The
// error is the database's: the session could not be checked.
func (s *sessions) current(ctx context.Context, r *http.Request) (string, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return "", nil
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(s.mac("session", parts[0], parts[1]))) {
		return "", nil
	}
	now := s.now()
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || now.Unix() > exp {
		return "", nil
	}
	var live bool
	err = s.pool.QueryRow(ctx, sqlSessionLive, pgx.StrictNamedArgs{"id": rowID(parts[1]), "now": now}).Scan(&live)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", nil // logged out
	case err != nil:
		return "", fmt.Errorf("check the admin session: %w", err)
	}
	return parts[1], nil
}

func (s *sessions) csrf(nonce string) string { return s.mac("csrf", nonce) }

func (s *sessions) checkCSRF(nonce, given string) bool {
	return nonce != "" && hmac.Equal([]byte(given), []byte(s.csrf(nonce)))
}
