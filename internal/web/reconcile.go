package web

// Reconciliation on the admin page (issue 22): the clients page's Dry run and Reconcile
// now buttons start reconcile-memberships for one client in the background, a run's page
// shows what each client's run found, and "repair these" repairs what a finished dry run
// confirmed. The work is reconcile.Reconciler's, the code behind POST /api/cron
// (job=reconcile-memberships) and /api/reconcile/runs/{id}.

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"tiersync/internal/apperr"
	"tiersync/internal/jobs"
	"tiersync/internal/reconcile"
)

// runPageSize is how many differences a run's page lists: the API's default page.
const runPageSize = 100

// background is the context a reconciliation started from the admin page runs on: it
// must outlive the request (a big client's listing takes an hour at its CRM's rate limit).
func (h *handler) background(r *http.Request) context.Context {
	if h.opts.Background != nil {
		return h.opts.Background
	}
	return context.WithoutCancel(r.Context())
}

// startReconcile is the clients page's Dry run (dry_run=true) and Reconcile now
// (dry_run=false): the run is recorded and started in the background, and the page comes
// back at once; the client's Reconciliation cell follows it on each reload.
func (h *handler) startReconcile(w http.ResponseWriter, r *http.Request) {
	// Refused now, with a 4xx, rather than as a failed run.
	c, err := h.opts.Store.GetClient(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var dry bool
	switch v := r.PostFormValue("dry_run"); v {
	case "true":
		dry = true
	case "false":
	default:
		h.fail(w, r, apperr.BadRequestf("dry_run must be true or false, got %q", clip(v)))
		return
	}
	opts := reconcile.Options{ClientID: c.ID, DryRun: dry}
	run, err := jobs.StartReconcile(h.background(r), h.opts.Scheduler, h.opts.Reconciler, opts)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: reconcile started", slog.String("client_id", c.ID), slog.Bool("dry_run", dry), slog.Int64("run_id", run.ID))
	msg := flashReconcileStarted
	if dry {
		msg = flashDryRunStarted
	}
	back(w, r, "/admin/clients#reconcile-"+c.ID, msg)
}

// runID is the {run} of a run's URL: a reconcile-memberships job run's id.
func runID(r *http.Request) (int64, error) {
	v := r.PathValue("run")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return 0, apperr.BadRequestf("run %q is not a run number", clip(v))
	}
	return id, nil
}

// runClient is a client's run as the run's page shows it.
type runClient struct {
	reconcile.ClientRun
	// Counts are the differences by kind, in reconcile.Kinds' order, the kinds found only.
	Counts []kindCount
	Total  int64
	// CanRepair: a finished dry run with confirmed differences left, which "repair
	// these" would repair.
	CanRepair bool
}

type kindCount struct {
	Kind string
	N    int64
}

// runDifference is a difference as the run's page shows it.
type runDifference struct {
	reconcile.Difference
	Client     string // the client's name, on a run of several clients
	RepairText string // what its repair does, in words
}

// repairText says what a repair does, for the run page.
func repairText(repair string) string {
	switch repair {
	case reconcile.RepairQueueAdd:
		return "the CRM gets our tier (a queued add)"
	case reconcile.RepairQueueCancel:
		return "the CRM's membership is cancelled (a queued cancel)"
	case reconcile.RepairQueueUpgrade:
		return "the CRM moves to our tier (a queued change)"
	case reconcile.RepairCancelHere:
		return "our enrollment ends (the client lets the CRM win)"
	case reconcile.RepairEnrollHere:
		return "we enroll the customer in the CRM's tier (the client lets the CRM win)"
	case reconcile.RepairMoveHere:
		return "our enrollment moves to the CRM's tier (the client lets the CRM win)"
	case reconcile.RepairRelink:
		return "our customer takes the CRM's customer id"
	case reconcile.RepairNone:
		return "none: a person decides (see the detail)"
	}
	return ""
}

// reconcileRun is a run's page: GET /admin/reconcile/{run}?client_id=&kind=&after=, the
// job run, its clients' runs and a page of their differences.
func (h *handler) reconcileRun(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rq, err := reconcile.ParseReportQuery(r.URL.Query())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rq.Limit = runPageSize // the page's own size, whatever the link says
	rep, err := h.opts.Reconciler.Report(r.Context(), id, rq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	names := make(map[string]string, len(rep.Clients))
	var shown []runClient
	inStep := 0
	for _, c := range rep.Clients {
		names[c.ClientID] = c.Client
		rc := runClient{ClientRun: c, CanRepair: c.DryRun && c.Status == "done" && c.Unrepaired > 0}
		for _, k := range reconcile.Kinds {
			if n := c.Differences[k]; n > 0 {
				rc.Counts, rc.Total = append(rc.Counts, kindCount{k, n}), rc.Total+n
			}
		}
		// A run of every client has thousands: those whose CRM matched are counted,
		// not listed, unless the page is about that client.
		if rq.ClientID == "" && c.Status == "done" && rc.Total == 0 {
			inStep++
			continue
		}
		shown = append(shown, rc)
	}
	dryRuns := false
	for _, c := range shown {
		dryRuns = dryRuns || c.DryRun
	}
	diffs := make([]runDifference, len(rep.Differences))
	for i, d := range rep.Differences {
		diffs[i] = runDifference{Difference: d, RepairText: repairText(d.Repair)}
		if len(rep.Clients) > 1 {
			diffs[i].Client = names[d.ClientID]
		}
	}
	next := ""
	if rep.NextAfter != nil {
		v := url.Values{}
		for k, s := range map[string]string{"client_id": rq.ClientID, "kind": rq.Kind} {
			if s != "" {
				v.Set(k, s)
			}
		}
		v.Set("after", strconv.FormatInt(*rep.NextAfter, 10))
		next = "/admin/reconcile/" + strconv.FormatInt(rep.ID, 10) + "?" + v.Encode()
	}
	title := "Reconcile run #" + strconv.FormatInt(rep.ID, 10)
	if rq.ClientID != "" && len(rep.Clients) == 1 {
		title += " · " + rep.Clients[0].Client
	}
	h.render(w, r, "reconcile", http.StatusOK, page{Title: title, Nav: "clients", Data: map[string]any{
		"Run": rep, "Clients": shown, "InStep": inStep, "DryRuns": dryRuns, "Differences": diffs, "Several": len(rep.Clients) > 1,
		"ClientID": rq.ClientID, "Kind": rq.Kind, "Kinds": reconcile.Kinds, "After": rq.After, "Next": next,
	}})
}

// repairReconcile is "repair these": POST /admin/reconcile/{run}/repair client_id=…,
// what the client's finished dry run confirmed is repaired now, each checked again
// against our data (reconcile.RepairDryRun). Pressing it twice is a 409: nothing is left.
func (h *handler) repairReconcile(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	clientID := r.PostFormValue("client_id")
	// One transaction, carried through even if the browser goes away: otherwise the
	// operator could not tell whether the repairs were made.
	repaired, skipped, err := h.opts.Reconciler.RepairDryRun(context.WithoutCancel(r.Context()), id, clientID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.opts.Logger.Info("admin: dry run repaired", slog.Int64("run_id", id), slog.String("client_id", clientID),
		slog.Int("repaired", repaired), slog.Int("skipped", skipped))
	// clientID is a UUID by now (RepairDryRun checked it).
	to := "/admin/reconcile/" + strconv.FormatInt(id, 10) + "?" + url.Values{"client_id": {clientID}}.Encode()
	backWith(w, r, to, flashRepairedThese, map[string]int{"repaired": repaired, "skipped": skipped})
}
