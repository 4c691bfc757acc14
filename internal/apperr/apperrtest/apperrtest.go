// Package apperrtest holds what tests of input handling share: whatever a caller can send
// must be refused as a client error (a 4xx), never as an internal one (a 500).
package apperrtest

import (
	"testing"

	"tiersync/internal/apperr"
)

// ClientError fails the test when err is an error of kind Internal; nil passes (the input
// was accepted).
func ClientError(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if k := apperr.KindOf(err); k == apperr.Internal {
		t.Fatalf("an input error classified as internal (500): %v", err)
	}
}
