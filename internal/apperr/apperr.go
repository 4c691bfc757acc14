// Package apperr classifies the errors the domain packages return, so that the HTTP layer,
// the CLI and the admin page can each answer them in their own way (a status code, an exit
// code, a flash message) without knowing where they came from.
package apperr

import (
	"errors"
	"fmt"
)

// Kind is what went wrong, from the caller's point of view.
type Kind int

const (
	// Internal is anything unclassified: a bug or an unreachable database.
	Internal Kind = iota
	// BadRequest: malformed input, a missing required field, a wrong type (HTTP 400).
	BadRequest
	// NotFound: a referenced resource does not exist (HTTP 404).
	NotFound
	// Conflict: a duplicate, or an operation the current state forbids (HTTP 409).
	Conflict
	// Invalid: well-formed but not acceptable (HTTP 422).
	Invalid
)

// Error is a classified error with a message meant for the caller.
type Error struct {
	Kind Kind
	Msg  string
	// Fields are extra members of the JSON error body, e.g. {"enrollment_id": "..."}.
	Fields map[string]any
}

func (e *Error) Error() string { return e.Msg }

func newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// BadRequestf makes a BadRequest error.
func BadRequestf(format string, args ...any) *Error { return newf(BadRequest, format, args...) }

// NotFoundf makes a NotFound error.
func NotFoundf(format string, args ...any) *Error { return newf(NotFound, format, args...) }

// Conflictf makes a Conflict error.
func Conflictf(format string, args ...any) *Error { return newf(Conflict, format, args...) }

// Invalidf makes an Invalid error.
func Invalidf(format string, args ...any) *Error { return newf(Invalid, format, args...) }

// With adds a field to the error's JSON body and returns the error.
func (e *Error) With(key string, value any) *Error {
	if e.Fields == nil {
		e.Fields = map[string]any{}
	}
	e.Fields[key] = value
	return e
}

// As returns the classified error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// KindOf returns err's kind, Internal when it is not classified.
func KindOf(err error) Kind {
	if e, ok := As(err); ok {
		return e.Kind
	}
	return Internal
}
