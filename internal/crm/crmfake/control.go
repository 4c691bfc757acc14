package crmfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// FaultRequest is the body of POST {prefix}/faults: every field any fake's control API
// takes. A fake reads the ones it documents (Control.Fault) and ignores the others.
type FaultRequest struct {
	Method, Path, Operation, Kind string
	Count, Status                 int
	RetryAfter                    int    `json:"retryAfter"`
	Tenant                        string `json:"tenant"`
	Shop                          string `json:"shop"`
	Message                       string `json:"message"`
	RawBody                       string `json:"rawBody"`
}

// Control is the shared part of a fake's control API.
type Control struct {
	Prefix string // e.g. "/_fake/commerce7"
	// Kinds names the fault kinds the fake takes, in the order its errors list them.
	Kinds []KindName
	// Fault turns a request into the fault to inject (kind already read from Kinds).
	Fault func(in FaultRequest, kind Kind) Fault
}

// KindName is a fault kind's name in the control API.
type KindName struct {
	Name string
	Kind Kind
}

// Register serves, under c.Prefix:
//
//	GET    /requests  {"requests": [...]}: the request log
//	POST   /faults    FaultRequest → 204; 400 for malformed JSON, an unknown kind, or a
//	                  status fault without an HTTP status
//	DELETE /faults    204: every fault not yet used up is removed (the CRM recovers)
func (core *Core[R]) Register(mux *http.ServeMux, c Control) {
	mux.HandleFunc("GET "+c.Prefix+"/requests", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]any{"requests": core.Requests()})
	})
	mux.HandleFunc("POST "+c.Prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		var in FaultRequest
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			WriteJSON(w, 400, map[string]string{"error": "malformed JSON: " + err.Error()})
			return
		}
		kind, ok := Kind(0), false
		names := make([]string, 0, len(c.Kinds))
		for _, k := range c.Kinds {
			names = append(names, k.Name)
			if k.Name == in.Kind {
				kind, ok = k.Kind, true
			}
		}
		if !ok {
			list := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
			WriteJSON(w, 400, map[string]string{"error": fmt.Sprintf("kind %q: must be %s", in.Kind, list)})
			return
		}
		if kind == Status && (in.Status < 100 || in.Status > 599) {
			WriteJSON(w, 400, map[string]string{"error": fmt.Sprintf("status %d: a status fault needs an HTTP status (100-599)", in.Status)})
			return
		}
		core.Inject(c.Fault(in, kind))
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE "+c.Prefix+"/faults", func(w http.ResponseWriter, r *http.Request) {
		core.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
}

// WriteJSON writes body as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// NonNil is s, or an empty slice for nil: a list the control API shows as [] rather
// than null.
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
