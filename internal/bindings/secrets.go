package bindings

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/store"
)

// Ciphertext layout: version byte, 12-byte random nonce, then the GCM seal
// of the value. The additional data binds the ciphertext to where it is
// stored, so one copied elsewhere in the store fails to open instead of
// leaking there: version 2 (written now) binds project and name; version 1
// (before secrets were per project) bound the name only and is still read,
// which lets the store's migration copy a legacy value to each project
// that used it.
const (
	secretV1      byte = 1
	secretV2      byte = 2
	secretADv1         = "strata secret v1:"
	secretADv2         = "strata secret v2:"
	keySize            = 32
	maxSecretSize      = 64 << 10
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

// Derive returns a 32-byte key for purpose derived from the secret key
// (HMAC-SHA256 of purpose under it): other uses of the node's secret (a
// MAC, a fingerprint) never hold the key that encrypts secrets, and keys
// for different purposes are unrelated.
func (b *Bindings) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, b.key)
	m.Write([]byte("strata derive v1\x00" + purpose))
	return m.Sum(nil)
}

func checkSecretName(name string) error {
	if err := store.CheckSecretName(name); err != nil {
		return fmt.Errorf("%w: %w", err, ErrBadRequest)
	}
	return nil
}

// secretAD is the additional data of a version 2 ciphertext: project and
// name, separated by a byte neither may contain.
func secretAD(project, name string) []byte {
	return []byte(secretADv2 + project + "\x00" + name)
}

func (b *Bindings) seal(project, name string, value []byte) ([]byte, error) {
	out := make([]byte, 1+b.aead.NonceSize(), 1+b.aead.NonceSize()+len(value)+b.aead.Overhead())
	out[0] = secretV2
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, err
	}
	return b.aead.Seal(out, out[1:], value, secretAD(project, name)), nil
}

func (b *Bindings) open(project, name string, ct []byte) ([]byte, error) {
	ns := b.aead.NonceSize()
	if len(ct) < 1+ns+b.aead.Overhead() || ct[0] != secretV1 && ct[0] != secretV2 {
		return nil, fmt.Errorf("secret %s of project %s: stored value is not a version %d or %d ciphertext", name, project, secretV1, secretV2)
	}
	ad := secretAD(project, name)
	if ct[0] == secretV1 {
		ad = []byte(secretADv1 + name)
	}
	pt, err := b.aead.Open(nil, ct[1:1+ns], ct[1+ns:], ad)
	if err != nil {
		// Wrong key, tampering, or a value moved from another name or project.
		return nil, fmt.Errorf("secret %s of project %s: cannot decrypt (wrong key, or the stored value was altered): %w", name, project, err)
	}
	return pt, nil
}

// SecretSet encrypts value and stores it under the project's name.
func (b *Bindings) SecretSet(ctx context.Context, project, name string, value []byte) error {
	if err := checkSecretName(name); err != nil {
		return fmt.Errorf("set secret: %w", err)
	}
	if err := store.CheckSecretProject(project); err != nil {
		return fmt.Errorf("set secret %s: %w: %w", name, err, ErrBadRequest)
	}
	if len(value) > maxSecretSize {
		return fmt.Errorf("set secret %s: %d bytes, limit %d: %w", name, len(value), maxSecretSize, ErrLimit)
	}
	ct, err := b.seal(project, name, value)
	if err != nil {
		return fmt.Errorf("set secret %s: %w", name, err)
	}
	if err := b.cfg.Store.SecretPut(ctx, project, name, ct); err != nil {
		return fmt.Errorf("set secret %s: %w", name, err)
	}
	return nil
}

// secretNotSetError is store.ErrNotFound for a secret, its text the whole
// message with what to do (a wrapped sentinel added ": not found" to it).
type secretNotSetError struct{ name, project string }

func (e *secretNotSetError) Error() string {
	return fmt.Sprintf("secret %s is not set in project %s (run: strata secrets set %s --project %s)", e.name, e.project, e.name, e.project)
}

func (e *secretNotSetError) Is(target error) bool { return target == store.ErrNotFound }

// SecretGet returns a project's secret whoever asks (admin and platform
// use; guests go through Secret). A missing secret is store.ErrNotFound.
func (b *Bindings) SecretGet(ctx context.Context, project, name string) ([]byte, error) {
	if err := checkSecretName(name); err != nil {
		return nil, fmt.Errorf("get secret: %w", err)
	}
	ct, err := b.cfg.Store.SecretGet(ctx, project, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &secretNotSetError{name: name, project: project}
	}
	if err != nil {
		return nil, fmt.Errorf("get secret %s: %w", name, err)
	}
	return b.open(project, name, ct)
}

// Secret returns a secret's value to the calling function, which must list
// it under secrets:. It is read from the function's own project: a
// same-named secret of another project is never reachable.
func (b *Bindings) Secret(ctx context.Context, c *host.Call, name string) ([]byte, error) {
	if err := checkCaller(c, "read secret "+name); err != nil {
		return nil, err
	}
	if !slices.Contains(c.Config.Secrets, name) {
		return nil, fmt.Errorf("function %s may not read secret %s (list it under secrets: in the manifest): %w", c, name, ErrNotPermitted)
	}
	if c.Project == "" {
		// Never fall back to a shared namespace: that is how one
		// project read another's secrets.
		return nil, fmt.Errorf("function %s has no project to read secret %s from: %w", c, name, ErrNotPermitted)
	}
	return b.SecretGet(ctx, c.Project, name)
}
