package secretbox

import (
	"bytes"
	"errors"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpen(t *testing.T) {
	box, err := New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := New(key(2))
	sealed, err := box.Seal([]byte("shpat_secret"), []byte("client-a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("shpat_secret")) {
		t.Fatal("sealed value contains the plain text")
	}
	again, _ := box.Seal([]byte("shpat_secret"), []byte("client-a"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1

	cases := []struct {
		name   string
		box    *Box
		sealed []byte
		ad     string
		want   string
		err    error
	}{
		{"round trip", box, sealed, "client-a", "shpat_secret", nil},
		{"other owner", box, sealed, "client-b", "", ErrOpen},
		{"other key", other, sealed, "client-a", "", ErrOpen},
		{"tampered", box, tampered, "client-a", "", ErrOpen},
		{"too short", box, sealed[:5], "client-a", "", ErrOpen},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.box.Open(c.sealed, []byte(c.ad))
			if !errors.Is(err, c.err) {
				t.Fatalf("err = %v, want %v", err, c.err)
			}
			if string(got) != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestNewRejectsShortKey(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d bytes) accepted", n)
		}
	}
}
