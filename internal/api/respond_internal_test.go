package api

import (
	"strings"
	"testing"

	"tiersync/internal/apperr"
)

func TestCheckJSONText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"plain", `{"a":"b","n":[1,-2.5,3e10]}`, true},
		{"an escaped backslash before u0000", `{"a":"\\u0000"}`, true},
		{"a surrogate pair", `{"a":"\ud83d\ude00"}`, true},
		{"an escaped quote", `{"a":"x\"\u0000"}`, false},
		{"NUL escape", `{"a":"\u0000"}`, false},
		{"NUL escape in a key", `{"\u0000":1}`, false},
		{"raw NUL in a string", "{\"a\":\"\x00\"}", false},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", false},
		{"lone high surrogate", `{"a":"\ud800"}`, false},
		{"high surrogate then a letter", `{"a":"\ud800\u0041"}`, false},
		{"lone low surrogate", `{"a":"\udc00"}`, false},
		{"exponent at the limit", `[1e1000, 1E-1000]`, true},
		{"exponent over", `[1e1001]`, false},
		{"negative exponent over", `[1e-20000]`, false},
		{"exponent beyond int", `[1e99999999999999999999]`, false},
		{"number too long", "[" + strings.Repeat("1", 101) + "]", false},
		{"nesting at the limit", strings.Repeat("[", 64) + strings.Repeat("]", 64), true},
		{"nesting over", strings.Repeat("[", 65) + strings.Repeat("]", 65), false},
		{"brackets in strings do not nest", `["` + strings.Repeat("[", 100) + `"]`, true},
		{"malformed escape: the decoder's business", `{"a":"\u00zz"}`, true},
		{"unterminated: the decoder's business", `{"a":"\`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkJSONText([]byte(c.raw))
			if (err == nil) != c.ok || (err != nil && apperr.KindOf(err) != apperr.BadRequest) {
				t.Fatalf("checkJSONText(%q) = %v, want ok=%v (a 400 when not)", c.raw, err, c.ok)
			}
		})
	}
}

func TestCredentialsMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		user, pass, wantUser, wantPass string
		ok                             bool
	}{
		{"u", "p4ss", "u", "p4ss", true},
		{"u", "", "u", "", false}, // an empty password never opens the door
		{"", "", "", "", false},
		{"u", "p4ss", "", "p4ss", false},
		{"u", "p4s", "u", "p4ss", false},
		{"u", "p4sss", "u", "p4ss", false},
		{"v", "p4ss", "u", "p4ss", false},
	}
	for _, c := range cases {
		if got := credentialsMatch(c.user, c.pass, c.wantUser, c.wantPass); got != c.ok {
			t.Errorf("credentialsMatch(%q, %q, %q, %q) = %v", c.user, c.pass, c.wantUser, c.wantPass, got)
		}
	}
}
