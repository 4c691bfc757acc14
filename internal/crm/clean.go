package crm

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// What we trust of a CRM's answer: nothing about its bytes. An error body may come from a
// proxy in front of the CRM, be cut by our own read limit, carry a NUL (JSON's \u0000) or
// bytes that are not UTF-8. PostgreSQL refuses NUL and invalid UTF-8 in text, and a
// refused outcome used to cost the rows of other tenants written in the same statement.
// So every string a CRM supplies is cleaned here before it is wrapped into an error or
// echoed into SQL; the queue cleans error_message once more whatever a handler returns.
const (
	// MaxQuoted caps the part of a CRM's answer (its message, or its body when that is not
	// the CRM's JSON error) quoted in an error: enough for a validation message listing
	// its fields, little enough that a 4 MiB HTML error page is not stored on every retry.
	MaxQuoted = 500
	// MaxMessage caps a whole error's text (what we were doing plus the quoted answer); the
	// queue stores error_message with the same cap (queue.maxErrorMessage).
	MaxMessage = 2000
	// MaxID caps an id a CRM hands back: Commerce7's are UUIDs (36 bytes), Shopify's GIDs
	// ("gid://shopify/Customer/<int64>") about 40; anything longer is not an id.
	MaxID = 255
)

// ellipsis marks a cut.
const ellipsis = "…"

// CleanText makes s safe to store as PostgreSQL text and to show: invalid UTF-8 bytes are
// replaced by U+FFFD (one per run of bad bytes), NUL bytes are dropped, and a string
// longer than max bytes is cut on a character boundary and ends with "…" (the result,
// "…" included, is at most max bytes). max <= 0 means no cap.
func CleanText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if max <= 0 || len(s) <= max {
		return s
	}
	if max < len(ellipsis) {
		// Too small for the mark: cut on a boundary and say nothing.
		return s[:runeStart(s, max)]
	}
	return s[:runeStart(s, max-len(ellipsis))] + ellipsis
}

// runeStart is the largest i <= n at which a character of the valid UTF-8 string s begins.
func runeStart(s string, n int) int {
	for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// CheckID refuses an id a CRM handed back that we could not store or use again: empty,
// not UTF-8, carrying a NUL or any control character, or longer than MaxID. Ids are not
// cleaned like messages: a changed id would name nothing, or someone else's record. A bad
// id is Retryable: the next attempt reads the CRM's state again; a CRM that keeps
// answering it fails the row after max_attempts with this message.
func CheckID(crmName, op, id string) error {
	bad := ""
	switch {
	case id == "":
		bad = "an empty id"
	case len(id) > MaxID:
		bad = fmt.Sprintf("an id of %d bytes (at most %d)", len(id), MaxID)
	case !utf8.ValidString(id):
		bad = "an id that is not UTF-8"
	case strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		bad = "an id with control characters"
	}
	if bad == "" {
		return nil
	}
	return &Error{Class: Retryable, CRM: crmName, Op: op,
		Message: "the CRM answered " + bad + ": " + fmt.Sprintf("%q", CleanText(id, 64))}
}
