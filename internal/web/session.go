package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sessions are stateless: the cookie is "expiry.nonce.mac", MACed with a key derived from
// the API token, so changing TIERSYNC_API_TOKEN logs every session out and no session
// table is needed across replicas. The CSRF token of a session is a second MAC over its
// nonce: forms carry it, and every POST must present the session's.
const (
	cookieName = "tiersync_admin"
	sessionTTL = 12 * time.Hour
)

type sessions struct {
	key   []byte
	token string
	now   func() time.Time
}

func newSessions(token string, now func() time.Time) *sessions {
	k := sha256.Sum256([]byte("tiersync admin session key\x00" + token))
	return &sessions{key: k[:], token: token, now: now}
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

// start sets a new session cookie.
func (s *sessions) start(w http.ResponseWriter, r *http.Request) {
	var n [16]byte
	_, _ = rand.Read(n[:])
	nonce := hex.EncodeToString(n[:])
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: exp + "." + nonce + "." + s.mac("session", exp, nonce),
		Path: "/admin", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
}

func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/admin", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}

// current returns the request's session nonce, or "" when it has no valid session.
func (s *sessions) current(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 || !hmac.Equal([]byte(parts[2]), []byte(s.mac("session", parts[0], parts[1]))) {
		return ""
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || s.now().Unix() > exp {
		return ""
	}
	return parts[1]
}

func (s *sessions) csrf(nonce string) string { return s.mac("csrf", nonce) }

func (s *sessions) checkCSRF(nonce, given string) bool {
	return nonce != "" && hmac.Equal([]byte(given), []byte(s.csrf(nonce)))
}
