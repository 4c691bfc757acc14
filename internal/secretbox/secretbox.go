// Package secretbox encrypts the CRM credentials tiersync stores (a Shopify shop's
// Admin API token) with AES-256-GCM under TIERSYNC_SECRET_KEY.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Box seals and opens values under one key. Its zero value is not usable; use New.
type Box struct {
	aead cipher.AEAD
	// check is CheckValue, computed once so that the key itself is not kept.
	check []byte
}

// checkLabel is what the key check value is an HMAC of: fixed, public, and never a value
// anything else computes an HMAC of under this key.
const checkLabel = "tiersync secret key check v1"

// New makes a Box from a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secretbox: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secretbox: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(checkLabel))
	return &Box{aead: aead, check: mac.Sum(nil)}, nil
}

// CheckValue identifies the key without revealing it: HMAC-SHA256 of a fixed label under
// the key (32 bytes). Stored at the first start, it lets a later start with another key
// refuse before it fails to open every stored credential.
func (b *Box) CheckValue() []byte { return append([]byte(nil), b.check...) }

// Seal returns nonce || ciphertext || tag. The additional data binds the ciphertext to
// its owner (a client id), so a token copied onto another client's row does not open.
func (b *Box) Seal(plaintext, additional []byte) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("secretbox: nonce: %w", err)
	}
	return b.aead.Seal(nonce, nonce, plaintext, additional), nil
}

// ErrOpen means the value was not sealed by this key for this owner, or was altered.
var ErrOpen = errors.New("secretbox: cannot decrypt (wrong TIERSYNC_SECRET_KEY or altered value)")

// Open reverses Seal.
func (b *Box) Open(sealed, additional []byte) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(sealed) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	out, err := b.aead.Open(nil, sealed[:n], sealed[n:], additional)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}
