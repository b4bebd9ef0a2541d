package objects

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// ErrBadID: an object id that is not 64 lowercase hex digits, or a name
// that is empty or too long.
var ErrBadID = errors.New("bad object id")

// MaxNameBytes is the longest name an id may be derived from.
const MaxNameBytes = 1024

// IDFromName is the id of the object called name in a class: the same
// name always gives the same id, in every project (the project is part of
// every key, so equal ids of two projects are two objects).
func IDFromName(class, name string) (string, error) {
	if name == "" || len(name) > MaxNameBytes {
		return "", fmt.Errorf("object name of %d bytes (want 1..%d): %w", len(name), MaxNameBytes, ErrBadID)
	}
	h := sha256.New()
	h.Write([]byte("strata object id\x00"))
	h.Write([]byte(class))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// NewID is a new random id, unique with overwhelming probability.
func NewID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// CheckID refuses an id that is not 64 lowercase hex digits.
func CheckID(id string) error {
	if len(id) != 64 {
		return fmt.Errorf("object id %q: %d characters, want 64 lowercase hex digits: %w", clip(id), len(id), ErrBadID)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("object id %q: want 64 lowercase hex digits: %w", clip(id), ErrBadID)
		}
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
