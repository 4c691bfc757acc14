package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"tiersync/internal/apperr"
)

// maxBody is the largest request body accepted (DESIGN §4: 413 above it).
const maxBody = 1 << 20

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing left to tell it
}

// writeError answers {"error": msg} with status.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}

// statusOf maps an error kind to its HTTP status (DESIGN §4).
func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.BadRequest:
		return http.StatusBadRequest
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.Invalid:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// fail answers err: a classified error with its status and message, anything else as a
// 500 whose details go to the log, not to the caller.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal {
		body := map[string]any{"error": e.Msg}
		for k, v := range e.Fields {
			body[k] = v
		}
		writeJSON(w, statusOf(e.Kind), body)
		return
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", tooBig.Limit))
		return
	}
	if timedOut(r.Context(), err) {
		logger(r.Context()).WarnContext(r.Context(), "request timed out", slog.String("error", err.Error()))
		writeError(w, http.StatusServiceUnavailable, "the request took longer than the server allows (REQUEST_TIMEOUT or DB_STATEMENT_TIMEOUT); nothing more will be done for it: try a narrower request, or again later")
		return
	}
	logger(r.Context()).ErrorContext(r.Context(), "request failed", slog.String("error", err.Error()))
	writeError(w, http.StatusInternalServerError, "internal error; see the server log for request "+requestID(r.Context()))
}

// decodeJSON reads the body as one JSON object into dst, refusing unknown fields (a typo
// in an optional field must not be silently ignored) and trailing data.
func decodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return apperr.BadRequestf("Content-Type must be application/json, got %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return apperr.BadRequestf("request body must hold a single JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a message that names the field at fault.
func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &tooBig):
		return err
	case errors.Is(err, io.EOF):
		return apperr.BadRequestf("request body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.BadRequestf("malformed JSON: %v", err)
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return apperr.BadRequestf("request body must be a JSON object")
		}
		return apperr.BadRequestf("%s must be %s, got %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apperr.BadRequestf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return apperr.BadRequestf("malformed JSON: %v", err)
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "an integer"
	case strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	case goKind == "struct", goKind == "map":
		return "an object"
	case goKind == "slice":
		return "an array"
	}
	return goKind
}

// list is the shape of every list answer (DESIGN §4).
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Items: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}

// Page sizes (DESIGN §4).
const (
	defaultLimit = 50
	maxLimit     = 500
)

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (limit int, cursor string, err error) {
	q := r.URL.Query()
	limit = defaultLimit
	if v := q.Get("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > maxLimit {
			return 0, "", apperr.BadRequestf("limit must be an integer from 1 to %d, got %q", maxLimit, v)
		}
		limit = n
	}
	return limit, q.Get("cursor"), nil
}
