package web

// Messages after a POST, by code.

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
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
	// After the clients page's Dry run and Reconcile now buttons.
	flashDryRunStarted    flashCode = "dry-run-started"
	flashReconcileStarted flashCode = "reconcile-started"
	// After "repair these": its counts ride along as ?repaired=&skipped= (whole numbers
	// only, so a link can make the page miscount, not say what it likes).
	flashRepairedThese flashCode = "repaired-these"
)

// flashText is the text of a code, and whether it reports a failure; q is the page's
// query, where a code's counts are.
func flashText(code flashCode, q url.Values) (text string, bad bool) {
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
	case flashDryRunStarted:
		return "Dry run started: it lists the CRM's memberships, confirms each difference with the customer's own read " +
			"and repairs nothing. Reload this page to follow it (a big client takes a while at its CRM's rate limit).", false
	case flashReconcileStarted:
		return "Reconcile started: each difference it confirms is repaired, the CRM's side through the queue at low " +
			"priority. Reload this page to follow it (a big client takes a while at its CRM's rate limit).", false
	case flashRepairedThese:
		repaired, ok1 := count(q, "repaired")
		skipped, ok2 := count(q, "skipped")
		if !ok1 || !ok2 {
			return "The confirmed differences were repaired: the table below says what became of each.", false
		}
		return fmt.Sprintf("Repair these: %d repaired, %d skipped (a skipped one's enrollment had changed since the dry run). "+
			"The CRM's changes wait in the queue at low priority; the table below says what became of each.", repaired, skipped), false
	}
	return "", false
}

// count is a whole number from the query, and whether there was one.
func count(q url.Values, name string) (int, bool) {
	n, err := strconv.Atoi(q.Get(name))
	return n, err == nil && n >= 0
}

// back redirects after a POST to where the form was, with a message.
func back(w http.ResponseWriter, r *http.Request, to string, msg flashCode) {
	backWith(w, r, to, msg, nil)
}

// backWith is back with the message's counts (flashRepairedThese's).
func backWith(w http.ResponseWriter, r *http.Request, to string, msg flashCode, counts map[string]int) {
	u, _ := url.Parse(to)
	q := u.Query()
	q.Set("msg", string(msg))
	for k, n := range counts {
		q.Set(k, strconv.Itoa(n))
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}
