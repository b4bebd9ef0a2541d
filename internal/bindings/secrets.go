package bindings

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/store"
)

// Ciphertext layout: version byte, 12-byte random nonce, then the GCM seal
// of the value. The additional data is secretAD + name, so a ciphertext
// copied to another name fails to open instead of leaking under it.
const (
	secretVersion byte = 1
	secretAD           = "strata secret v1:"
	keySize            = 32
	maxSecretSize      = 64 << 10
	maxSecretName      = 128
)

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("secret key is %d bytes, want %d (base64 of 32 random bytes)", len(key), keySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return cipher.NewGCM(block)
}

// loadOrCreateKey reads the key file (base64 text, or 32 raw bytes), or
// creates it with a fresh random key, readable by the owner only.
func loadOrCreateKey(path string, log *slog.Logger) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, keySize)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("create secret key %s: %w", path, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("create secret key %s: %w", path, err)
		}
		// O_EXCL: two processes starting at once must not both write a
		// key; the loser reads the winner's.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			return loadOrCreateKey(path, log)
		}
		if err != nil {
			return nil, fmt.Errorf("create secret key %s: %w", path, err)
		}
		_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("create secret key %s: %w", path, err)
		}
		log.Info("created secret key; back it up: secrets cannot be read without it", "path", path)
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read secret key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("secret key file is readable by others; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	if key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(data))); err == nil && len(key) == keySize {
		return key, nil
	}
	if len(data) == keySize {
		return data, nil
	}
	return nil, fmt.Errorf("read secret key %s: want base64 of %d bytes", path, keySize)
}

// ParseKey decodes a secret key given as base64 of 32 bytes (the form of
// STRATA_SECRET_KEY and of the key file), for Config.Key.
func ParseKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != keySize {
		return nil, fmt.Errorf("secret key: want base64 of %d random bytes (openssl rand -base64 32)", keySize)
	}
	return key, nil
}

func checkSecretName(name string) error {
	if name == "" || len(name) > maxSecretName {
		return fmt.Errorf("secret name %q: want 1 to %d characters: %w", name, maxSecretName, ErrBadRequest)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("secret name %q: use letters, digits, '_', '-' and '.': %w", name, ErrBadRequest)
		}
	}
	return nil
}

func (b *Bindings) seal(name string, value []byte) ([]byte, error) {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(value)+b.aead.Overhead())
	out[0] = secretVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return b.aead.Seal(out, out[1:], value, []byte(secretAD+name)), nil
}

func (b *Bindings) open(name string, ct []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(ct) < 1+ns+b.aead.Overhead() || ct[0] != secretVersion {
		return nil, fmt.Errorf("secret %s: stored value is not a version %d ciphertext", name, secretVersion)
	}
	pt, err := b.aead.Open(nil, ct[1:1+ns], ct[1+ns:], []byte(secretAD+name))
	if err != nil {
		// Wrong key, tampering, or a value moved from another name.
		return nil, fmt.Errorf("secret %s: cannot decrypt (wrong key, or the stored value was altered): %w", name, err)
	}
	return pt, nil
}

// SecretSet encrypts value and stores it under name.
func (b *Bindings) SecretSet(ctx context.Context, name string, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return fmt.Errorf("set secret: %w", err)
	}
	if len(value) > maxSecretSize {
		return fmt.Errorf("set secret %s: %d bytes, limit %d: %w", name, len(value), maxSecretSize, ErrLimit)
	}
	ct, err := b.seal(name, value)
	if err != nil {
		return fmt.Errorf("set secret %s: %w", name, err)
	}
	if err := b.cfg.Store.SecretPut(ctx, name, ct); err != nil {
		return fmt.Errorf("set secret %s: %w", name, err)
	}
	return nil
}

// SecretGet returns a secret's value whoever asks (admin and platform
// use; guests go through Secret). A missing secret is store.ErrNotFound.
func (b *Bindings) SecretGet(ctx context.Context, name string) ([]byte, error) {
	ct, err := b.cfg.Store.SecretGet(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("secret %s is not set (run: strata secrets set %s): %w", name, name, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", name, err)
	}
	return b.open(name, ct)
}

// Secret returns a secret's value to the calling function, which must list
// it under secrets:.
func (b *Bindings) Secret(ctx context.Context, name string) ([]byte, error) {
	c, err := callerFrom(ctx, "read secret "+name)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(c.Config.Secrets, name) {
		return nil, fmt.Errorf("function %s may not read secret %s (list it under secrets: in the manifest): %w", c, name, ErrNotPermitted)
	}
	return b.SecretGet(ctx, name)
}
