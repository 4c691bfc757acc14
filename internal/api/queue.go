package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"tiersync/internal/apperr"
	"tiersync/internal/queue"
)

// syncBatch is how many due rows POST /api/cron/sync runs inside one request, as the
// seeds' processor did.
const syncBatch = 50

// queueFilter reads the queue list's filters. The engine filters on its own columns, so
// an email (any part of it) is first resolved to the matching customers' ids (at most
// membership.MaxCustomerIDsByEmail of them; none found: an empty list, nothing matches).
func (s *Server) queueFilter(r *http.Request) (queue.Filter, error) {
	q := r.URL.Query()
	f := queue.Filter{Status: q.Get("status"), ActionType: q.Get("action_type"), ClientID: q.Get("client_id")}
	if email := q.Get("email"); email != "" {
		ids, err := s.opts.Store.CustomerIDsByEmail(r.Context(), email, queue.MaxFilterCustomerIDs)
		if err != nil {
			return queue.Filter{}, err
		}
		f.CustomerIDs = ids
	}
	return f, nil
}

func queueID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, apperr.BadRequestf("queue id %q is not a positive integer", r.PathValue("id"))
	}
	return id, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apperr.BadRequestf("%s must be true or false, got %q", name, v)
	}
	return b, nil
}

func (s *Server) listQueue(w http.ResponseWriter, r *http.Request) {
	limit, cursor, err := pageParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	f, err := s.queueFilter(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	items, next, err := s.opts.Engine.List(r.Context(), f, limit, cursor)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newList(items, next))
}

func (s *Server) queueStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.opts.Engine.Stats(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) getQueueItem(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	it, history, err := s.opts.Engine.Get(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	if history == nil {
		history = []queue.Attempt{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": it, "history": history})
}

func (s *Server) retryQueueItem(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err == nil {
		var reset bool
		if reset, err = boolParam(r, "reset_attempts"); err == nil {
			var it queue.Item
			if it, err = s.opts.Engine.Retry(r.Context(), id, reset); err == nil {
				s.log.Info("queue row retried", "queue_id", id, "reset_attempts", reset, "request_id", requestID(r.Context()))
				writeJSON(w, http.StatusOK, it)
				return
			}
		}
	}
	fail(w, r, err)
}

func (s *Server) cancelQueueItem(w http.ResponseWriter, r *http.Request) {
	id, err := queueID(r)
	if err == nil {
		var it queue.Item
		if it, err = s.opts.Engine.Cancel(r.Context(), id); err == nil {
			s.log.Info("queue row cancelled", "queue_id", id, "request_id", requestID(r.Context()))
			writeJSON(w, http.StatusOK, it)
			return
		}
	}
	fail(w, r, err)
}

func (s *Server) retryFailed(w http.ResponseWriter, r *http.Request) {
	reset, err := boolParam(r, "reset_attempts")
	if err != nil {
		fail(w, r, err)
		return
	}
	f, err := s.queueFilter(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if f.Status != "" && f.Status != queue.StatusFailed {
		fail(w, r, apperr.Invalidf("retry-failed retries failed rows; status=%s does not apply", f.Status))
		return
	}
	n, err := s.opts.Engine.RetryFailed(r.Context(), f, reset)
	if err != nil {
		fail(w, r, err)
		return
	}
	s.log.Info("failed queue rows retried", "count", n, "reset_attempts", reset, "request_id", requestID(r.Context()))
	writeJSON(w, http.StatusOK, map[string]int64{"retried": n})
}

// cronSync is POST /api/cron/sync: with no body, run up to 50 due rows inside the request
// (an outside scheduler can drive the queue this way); with {"id": N}, run that pending
// row now whatever its next_retry_at.
func (s *Server) cronSync(w http.ResponseWriter, r *http.Request) {
	raw, err := readBody(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	if strings.TrimSpace(string(raw)) == "" {
		res, err := s.opts.Engine.RunDue(runContext(r), syncBatch)
		if err != nil {
			fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
		return
	}
	var body struct {
		ID *int64 `json:"id"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
		fail(w, r, jsonError(err))
		return
	}
	if body.ID == nil {
		fail(w, r, apperr.BadRequestf(`the body is empty (run due rows) or {"id": N}`))
		return
	}
	status, err := s.opts.Engine.RunOne(runContext(r), *body.ID)
	if err != nil {
		fail(w, r, err)
		return
	}
	res := queue.RunResult{Processed: 1}
	if status == queue.StatusCompleted {
		res.Succeeded = 1
	} else {
		res.Failed = 1
	}
	writeJSON(w, http.StatusOK, map[string]any{"processed": res.Processed, "succeeded": res.Succeeded, "failed": res.Failed, "status": status})
}
