package web

// Logging in and out of the admin page.

import (
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"tiersync/internal/authlimit"
)

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "login", http.StatusOK, page{Title: "Log in", Data: map[string]any{"Next": safeNext(r.URL.Query().Get("next"))}})
}

// login checks the API token, at most LoginLimiter's failures per client address: past
// them an attempt is refused before the token is compared, so guessing it goes at a
// handful of tries a minute whatever the attacker's bandwidth.
func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	// The whole form is read before the limiter is asked, so that nothing slow (a body
	// trickling in) sits between its check and the failure it records.
	given, next := r.PostFormValue("token"), safeNext(r.PostFormValue("next"))
	client := authlimit.ClientKey(r)
	if ok, after := h.limiter.Allow(client); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(after.Seconds()))))
		h.render(w, r, "login", http.StatusTooManyRequests, page{Title: "Log in",
			Error: "Too many wrong tokens from your address: wait a minute and try again.", Data: map[string]any{"Next": next}})
		return
	}
	if !h.sess.checkToken(given) {
		h.limiter.Fail(client)
		h.render(w, r, "login", http.StatusUnauthorized, page{Title: "Log in", Error: "That is not the API token.",
			Data: map[string]any{"Next": next}})
		return
	}
	if err := h.sess.start(r.Context(), w); err != nil {
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// safeNext is where to go after logging in: next when it is a clean path on the admin
// page, otherwise /admin/. Browsers read a backslash as a slash, "//" as the start of a
// host, and undo "..", "%2e%2e" and "%2f" in ways http.Redirect's path.Clean does not
// foresee, so anything containing them (raw or percent-encoded, once or twice) is
// refused rather than repaired: only the admin page's own links have to pass.
func safeNext(next string) string {
	const home = "/admin/"
	// The query is left as it is (the admin page's own redirect to the login page encoded
	// it): it cannot change where the browser goes, only what the page shows.
	p, _, _ := strings.Cut(next, "?")
	if !printableASCII(next) || strings.ContainsAny(next, `\#`) {
		return home
	}
	// The path once decoded must be clean and under /admin; a "%" left after decoding
	// is a second layer of encoding, which no admin link has.
	d, err := url.PathUnescape(p)
	if err != nil || !printableASCII(d) || strings.ContainsAny(d, `\%`) || strings.Contains(d, "//") || strings.Contains(d, "..") {
		return home
	}
	if clean := path.Clean(d); clean != strings.TrimSuffix(d, "/") && clean != d {
		return home // a "." segment
	} else if clean != "/admin" && !strings.HasPrefix(clean, "/admin/") {
		return home
	}
	return next
}

// printableASCII reports whether s is only printable ASCII: no control characters, no
// DEL, nothing a browser might fold into a slash or a dot.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	nonce, _ := r.Context().Value(ctxKey{}).(string)
	if err := h.sess.end(r.Context(), w, nonce); err != nil {
		h.fail(w, r, err)
		return
	}
	back(w, r, "/admin/login", flashLoggedOut)
}
