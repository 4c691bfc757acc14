package web

// The enroll form: a client's tier, the customer, an address when the tier ships and an
// imported enrolled_at. It goes through membership.Store.Enroll, the code behind POST
// /api/enrollments (one transaction: customer, enrollment, event, flags, queue row),
// waits for the sync as that endpoint does, and shows the customer's page with the row.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
	"tiersync/internal/queue"
)

// enrollForm is what the form holds, kept when it is shown again with an error.
type enrollForm struct {
	ClientID, TierID, Email, FirstName, LastName, Phone, CRMID, EnrolledAt string
	Address                                                                membership.Address
}

func (h *handler) enrollPage(w http.ResponseWriter, r *http.Request) {
	h.renderEnroll(w, r, http.StatusOK, enrollForm{ClientID: r.URL.Query().Get("client")}, "")
}

// renderEnroll shows the form for the chosen client (the first by name when none is).
// The tiers are the client's: choosing another client reloads the form (no script).
func (h *handler) renderEnroll(w http.ResponseWriter, r *http.Request, status int, f enrollForm, errText string) {
	ctx := r.Context()
	clients, err := h.opts.Store.ClientsByName(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var client *membership.Client
	for i := range clients {
		if clients[i].ID == f.ClientID || (f.ClientID == "" && i == 0) {
			client = &clients[i]
			break
		}
	}
	data := map[string]any{"Clients": clients, "Form": f}
	if client != nil {
		f.ClientID = client.ID
		tiers, _, err := h.opts.Store.ListTiers(ctx, client.ID, membership.Page{Limit: membership.MaxPageLimit})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		data["Client"], data["Tiers"], data["Form"] = client, tiers, f
	}
	h.render(w, r, "enroll", status, page{Title: "Enroll a member", Nav: "enroll", Error: errText, Data: data})
}

// enroll is the form's POST. A refusal (invalid input, a tier that ships without an
// address, a customer already enrolled) shows the form again with its values and
// membership's message; success redirects to the customer's page, whose flash says what
// the sync had come to.
func (h *handler) enroll(w http.ResponseWriter, r *http.Request) {
	f := enrollForm{ClientID: r.PostFormValue("client_id"), TierID: r.PostFormValue("tier_id"),
		Email: r.PostFormValue("email"), FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"),
		Phone: r.PostFormValue("phone"), CRMID: r.PostFormValue("crm_id"), EnrolledAt: r.PostFormValue("enrolled_at"),
		Address: membership.Address{Address: r.PostFormValue("address"), Address2: r.PostFormValue("address2"),
			City: r.PostFormValue("city"), StateCode: r.PostFormValue("state_code"), ZipCode: r.PostFormValue("zip_code"),
			CountryCode: r.PostFormValue("country_code")}}
	in, err := f.enrollment()
	if err == nil {
		var res membership.EnrollResult
		if res, err = h.opts.Store.Enroll(r.Context(), in); err == nil {
			h.opts.Logger.Info("admin: member enrolled", slog.String("enrollment_id", res.Enrollment.ID),
				slog.String("client_id", res.Enrollment.ClientID), slog.Int64("queue_id", res.QueueID))
			to := fmt.Sprintf("/admin/customers/%s#q-%d", res.Enrollment.CustomerID, res.QueueID)
			back(w, r, to, h.syncOutcome(r.Context(), res))
			return
		}
	}
	switch apperr.KindOf(err) {
	case apperr.BadRequest, apperr.Invalid, apperr.NotFound:
		h.renderEnroll(w, r, http.StatusUnprocessableEntity, f, err.Error())
	case apperr.Conflict:
		h.renderEnroll(w, r, http.StatusConflict, f, err.Error())
	default:
		h.fail(w, r, err)
	}
}

// syncOutcome waits for a Commerce7 enrollment's row as POST /api/enrollments does
// (Shopify's rows are not waited for there either), at most EnrollWait; waiting never
// cancels the CRM call, and a wait that fails leaves the answer "still under way".
func (h *handler) syncOutcome(ctx context.Context, res membership.EnrollResult) flashCode {
	if res.CRMType != membership.CRMCommerce7 || h.opts.EnrollWait <= 0 {
		return flashEnrolledPending
	}
	ctx, cancel := context.WithTimeout(ctx, h.opts.EnrollWait)
	defer cancel()
	status, err := h.opts.Engine.Wait(ctx, res.QueueID)
	if err != nil {
		h.opts.Logger.Warn("admin: enroll: sync wait", slog.Int64("queue_id", res.QueueID), slog.String("error", err.Error()))
		return flashEnrolledPending
	}
	switch status {
	case queue.StatusCompleted:
		return flashEnrolledSynced
	case queue.StatusFailed, queue.StatusCancelled:
		return flashEnrolledFailed
	}
	return flashEnrolledPending
}

// enrollment makes the form into Enroll's input, as the API's handler makes its JSON: an
// optional crm_id and phone, an address only when one of its fields was filled in (the
// form always sends them all), enrolled_at in UTC.
func (f enrollForm) enrollment() (membership.NewEnrollment, error) {
	c := &membership.NewCustomer{Email: f.Email, FirstName: f.FirstName, LastName: f.LastName}
	if v := strings.TrimSpace(f.Phone); v != "" {
		c.Phone = &v
	}
	if v := strings.TrimSpace(f.CRMID); v != "" {
		c.CRMID = &v
	}
	a := f.Address
	if strings.TrimSpace(a.Address+a.Address2+a.City+a.StateCode+a.ZipCode+a.CountryCode) != "" {
		c.Address = &a
	}
	in := membership.NewEnrollment{ClientID: f.ClientID, TierID: f.TierID, Customer: c, Source: "admin"}
	if v := strings.TrimSpace(f.EnrolledAt); v != "" {
		t, err := parseEnrolledAt(v)
		if err != nil {
			return in, err
		}
		in.EnrolledAt = &t
	}
	return in, nil
}

// parseEnrolledAt reads the form's enrolled_at: what a datetime-local input sends
// (2026-01-31T09:30, taken as UTC), a date, or RFC 3339 as the API takes it.
func parseEnrolledAt(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, apperr.BadRequestf("enrolled_at %q is not a date and time such as 2026-01-31T09:30 (UTC)", clip(v))
}
