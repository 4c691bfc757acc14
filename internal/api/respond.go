package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"tiersync/internal/apperr"
	"tiersync/internal/membership"
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

// readBody reads the whole request body (limitBody caps it: a *http.MaxBytesError, 413).
func readBody(r *http.Request) ([]byte, error) {
	raw, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, err
	}
	if err != nil {
		return nil, apperr.BadRequestf("read body: %v", err)
	}
	return raw, nil
}

// readJSONBody reads the body and refuses, with a 400, JSON text that PostgreSQL cannot
// hold: every JSON body, the API's and the webhooks', comes through here, so that no
// handler has to remember that a string or a stored payload can fail in the database.
func readJSONBody(r *http.Request) ([]byte, error) {
	raw, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if err := checkJSONText(raw); err != nil {
		return nil, err
	}
	return raw, nil
}

// Limits of checkJSONText. PostgreSQL's numeric (and so jsonb) overflows near 10^131072
// and underflows near 10^-16383; no field of ours or of a CRM's payload comes close to
// these bounds.
const (
	maxJSONDepth       = 64
	maxJSONNumberBytes = 100
	maxJSONExponent    = 1000
)

// checkJSONText refuses what Go's decoder lets through but PostgreSQL does not: invalid
// UTF-8 (Go would turn it into U+FFFD in a decoded string, but the raw payload of a
// webhook is stored as jsonb), \u0000 (text and jsonb cannot hold a NUL), a lone UTF-16
// surrogate escape (jsonb refuses it), numbers beyond numeric's range, and nesting deep
// enough to matter. It does not judge the syntax: the decoder does that afterwards.
func checkJSONText(raw []byte) error {
	if !utf8.Valid(raw) {
		return apperr.BadRequestf("request body is not valid UTF-8")
	}
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			end, err := checkJSONString(raw, i+1)
			if err != nil {
				return err
			}
			i = end
		case c == '{' || c == '[':
			if depth++; depth > maxJSONDepth {
				return apperr.BadRequestf("JSON is nested deeper than %d levels", maxJSONDepth)
			}
		case c == '}' || c == ']':
			depth--
		case c == '-' || (c >= '0' && c <= '9'):
			end := i
			for end < len(raw) && strings.IndexByte("+-.eE0123456789", raw[end]) >= 0 {
				end++
			}
			if err := checkJSONNumber(raw[i:end]); err != nil {
				return err
			}
			i = end - 1
		}
	}
	return nil
}

// checkJSONString checks the string whose contents start at raw[i] and returns the index
// of its closing quote (or len(raw) when it has none: the decoder reports that).
func checkJSONString(raw []byte, i int) (int, error) {
	for ; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			return i, nil
		case 0:
			return 0, apperr.BadRequestf("JSON must not contain NUL characters")
		case '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				r, ok := hex4(raw, i+2)
				if !ok {
					i++
					continue // malformed: the decoder reports it
				}
				switch {
				case r == 0:
					return 0, apperr.BadRequestf("JSON must not contain NUL characters (\\u0000)")
				case r >= 0xD800 && r <= 0xDBFF:
					low, ok := rune(0), false
					if i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u' {
						low, ok = hex4(raw, i+8)
					}
					if !ok || low < 0xDC00 || low > 0xDFFF {
						return 0, apperr.BadRequestf("JSON holds an unpaired UTF-16 surrogate escape (\\u%04x)", r)
					}
					i += 11
				case r >= 0xDC00 && r <= 0xDFFF:
					return 0, apperr.BadRequestf("JSON holds an unpaired UTF-16 surrogate escape (\\u%04x)", r)
				default:
					i += 5
				}
				continue
			}
			i++ // an escaped character: \" is not the end
		}
	}
	return len(raw), nil
}

// hex4 reads four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// checkJSONNumber refuses a number literal PostgreSQL's jsonb cannot hold.
func checkJSONNumber(num []byte) error {
	if len(num) > maxJSONNumberBytes {
		return apperr.BadRequestf("JSON number of %d characters is too long", len(num))
	}
	if e := bytes.IndexAny(num, "eE"); e >= 0 {
		n, err := strconv.Atoi(strings.TrimLeft(string(num[e+1:]), "+-"))
		var numErr *strconv.NumError
		if (err == nil && n > maxJSONExponent) || (errors.As(err, &numErr) && numErr.Err == strconv.ErrRange) {
			return apperr.BadRequestf("JSON number %s is out of range", num)
		}
	}
	return nil
}

// decodeJSON reads the body as one JSON object into dst, refusing unknown fields (a typo
// in an optional field must not be silently ignored), trailing data, and text the
// database cannot hold (readJSONBody).
func decodeJSON(r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return apperr.BadRequestf("Content-Type must be application/json, got %q", ct)
	}
	raw, err := readJSONBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
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
	maxLimit     = membership.MaxPageLimit
	// maxCursor is far above any cursor we make (a base64 JSON key of a timestamp and a
	// UUID, or a queue id), so that a longer one is refused before it is decoded or echoed.
	maxCursor = 512
)

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (limit int, cursor string, err error) {
	q := r.URL.Query()
	limit = defaultLimit
	if v := q.Get("limit"); v != "" {
		n, convErr := strconv.Atoi(v)
		if convErr != nil || n < 1 || n > maxLimit {
			return 0, "", apperr.BadRequestf("limit must be an integer from 1 to %d, got %q", maxLimit, truncate(v, 32))
		}
		limit = n
	}
	cursor = q.Get("cursor")
	if len(cursor) > maxCursor {
		return 0, "", apperr.BadRequestf("cursor is %d bytes long; the cursors this API returns are at most %d", len(cursor), maxCursor)
	}
	return limit, cursor, nil
}
