package web

// Messages after a POST, by code.

import (
	"net/http"
	"net/url"
)

// A flashCode is what ?msg= carries after a POST: a code for one of a fixed set of
// texts, never the text itself, so that a link cannot make the admin page say what it
// likes ("your session expired, log in at …"). An unknown code shows nothing.
type flashCode string

const (
	flashRetried       flashCode = "retried"
	flashCancelled     flashCode = "cancelled"
	flashNotActionable flashCode = "not-actionable"
	flashFailedRetried flashCode = "failed-retried"
	flashJobSucceeded  flashCode = "job-succeeded"
	flashJobFailed     flashCode = "job-failed"
	flashJobStarted    flashCode = "job-started"
	flashLoggedOut     flashCode = "logged-out"
	// After the enroll form: what the sync had come to when the page stopped waiting.
	flashEnrolledSynced  flashCode = "enrolled-synced"
	flashEnrolledPending flashCode = "enrolled-pending"
	flashEnrolledFailed  flashCode = "enrolled-failed"
	flashClientSaved     flashCode = "client-saved"
	flashTierSaved       flashCode = "tier-saved"
)

// flashText is the text of a code, and whether it reports a failure.
func flashText(code flashCode) (text string, bad bool) {
	switch code {
	case flashRetried:
		return "The row is due again.", false
	case flashCancelled:
		return "The row is cancelled.", false
	case flashNotActionable:
		return "Nothing was changed: only pending or failed rows can be retried or cancelled.", true
	case flashFailedRetried:
		return "The failed rows are due again.", false
	case flashJobSucceeded:
		return "The job ran and succeeded: its run is below.", false
	case flashJobFailed:
		return "The job ran and failed: its run and error are below.", true
	case flashJobStarted:
		return "The job was started: its run is below.", false
	case flashLoggedOut:
		return "You are logged out.", false
	case flashEnrolledSynced:
		return "Enrolled, and the CRM has the membership: the sync's row below is completed.", false
	case flashEnrolledPending:
		return "Enrolled. The sync is still under way (or waiting for the CRM): its row is below; reload to follow it.", false
	case flashEnrolledFailed:
		return "Enrolled, but the sync failed: its row below says why.", true
	case flashClientSaved:
		return "The client is saved.", false
	case flashTierSaved:
		return "The tier is saved.", false
	}
	return "", false
}

// back redirects after a POST to where the form was, with a message.
func back(w http.ResponseWriter, r *http.Request, to string, msg flashCode) {
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("msg", string(msg))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
