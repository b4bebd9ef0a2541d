package bindings

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

func TestSecretRoundTrip(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	value := []byte("sk_live_\x00\xff binary")
	require.NoError(t, f.b.SecretSet(ctx, "p", "STRIPE_KEY", value))

	f.st.mu.Lock()
	ct := f.st.secrets["p/STRIPE_KEY"]
	f.st.mu.Unlock()
	require.NotContains(t, string(ct), "sk_live", "the store holds ciphertext only")

	got, err := f.b.SecretGet(ctx, "p", "STRIPE_KEY")
	require.NoError(t, err)
	require.Equal(t, value, got)

	// Two encryptions of one value differ (random nonce).
	require.NoError(t, f.b.SecretSet(ctx, "p", "STRIPE_KEY", value))
	f.st.mu.Lock()
	require.NotEqual(t, ct, f.st.secrets["p/STRIPE_KEY"])
	f.st.mu.Unlock()
}

func TestSecretTamperedAndMovedAreRejected(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	require.NoError(t, f.b.SecretSet(ctx, "p", "A", []byte("alpha")))
	f.st.mu.Lock()
	ct := f.st.secrets["p/A"]
	f.st.mu.Unlock()

	tampered := append([]byte(nil), ct...)
	tampered[len(tampered)-1] ^= 1
	require.NoError(t, f.st.SecretPut(ctx, "p", "A", tampered))
	_, err := f.b.SecretGet(ctx, "p", "A")
	require.ErrorContains(t, err, "cannot decrypt")

	// The intact ciphertext of A stored under B does not open as B.
	require.NoError(t, f.st.SecretPut(ctx, "p", "B", ct))
	_, err = f.b.SecretGet(ctx, "p", "B")
	require.ErrorContains(t, err, "cannot decrypt")

	// Nor under A of another project: a ciphertext copied across
	// projects in the store does not leak there.
	require.NoError(t, f.st.SecretPut(ctx, "other", "A", ct))
	_, err = f.b.SecretGet(ctx, "other", "A")
	require.ErrorContains(t, err, "cannot decrypt")

	require.NoError(t, f.st.SecretPut(ctx, "p", "C", []byte{9, 9}))
	_, err = f.b.SecretGet(ctx, "p", "C")
	require.Error(t, err)
}

func TestSecretGuestAccess(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	require.NoError(t, f.b.SecretSet(ctx, testProject, "TOKEN", []byte("t0k")))

	allowed := as("app", "i1", record.FunctionConfig{Secrets: []string{"TOKEN", "UNSET"}})
	got, err := f.b.Secret(allowed, "TOKEN")
	require.NoError(t, err)
	require.Equal(t, []byte("t0k"), got)

	_, err = f.b.Secret(as("other", "i2", record.FunctionConfig{Secrets: []string{"ELSE"}}), "TOKEN")
	require.ErrorIs(t, err, ErrNotPermitted)
	require.ErrorContains(t, err, "other@1 may not read secret TOKEN")

	_, err = f.b.Secret(ctx, "TOKEN")
	require.ErrorIs(t, err, ErrNoCaller)

	_, err = f.b.Secret(allowed, "UNSET")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorContains(t, err, "secret UNSET is not set")

	require.ErrorIs(t, f.b.SecretSet(ctx, "p", "bad/name", []byte("x")), ErrBadRequest)
}

func TestSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	ctx := context.Background()
	b1, err := New(ctx, Config{Store: st, DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, b1.SecretSet(ctx, "p", "K", []byte("v")))
	require.NoError(t, b1.Close())

	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A restart reads the same key.
	b2, err := New(ctx, Config{Store: st, DataDir: dir})
	require.NoError(t, err)
	defer b2.Close()
	got, err := b2.SecretGet(ctx, "p", "K")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), got)

	// Another key cannot read it.
	b3, err := New(ctx, Config{Store: st, DataDir: dir, Key: make([]byte, 32)})
	require.NoError(t, err)
	defer b3.Close()
	_, err = b3.SecretGet(ctx, "p", "K")
	require.ErrorContains(t, err, "cannot decrypt")

	_, err = New(ctx, Config{Store: st, DataDir: dir, Key: []byte("short")})
	require.ErrorContains(t, err, "32")
}

func TestParseKey(t *testing.T) {
	key, err := ParseKey(" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n")
	require.NoError(t, err)
	require.Len(t, key, 32)
	_, err = ParseKey("c2hvcnQ=")
	require.Error(t, err)
}

// TestSecretOtherProjectIsUnreachable: a function binds a secret by name,
// and the name resolves in its own project only (issue 9: any project
// could bind another project's secret by name).
func TestSecretOtherProjectIsUnreachable(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	require.NoError(t, f.b.SecretSet(ctx, "victim", "API_KEY", []byte("victim's")))

	thief := WithCaller(ctx, Caller{Function: "steal", Project: "thief", Version: 1, InvocationID: "i",
		Config: record.FunctionConfig{Secrets: []string{"API_KEY"}}})
	_, err := f.b.Secret(thief, "API_KEY")
	require.ErrorIs(t, err, store.ErrNotFound, "the thief's namespace has no API_KEY")
	require.ErrorContains(t, err, "not set in project thief")

	// Its own secret of the same name is what it reads.
	require.NoError(t, f.b.SecretSet(ctx, "thief", "API_KEY", []byte("thief's")))
	got, err := f.b.Secret(thief, "API_KEY")
	require.NoError(t, err)
	require.Equal(t, "thief's", string(got))
	victim := WithCaller(ctx, Caller{Function: "app", Project: "victim", Version: 1, InvocationID: "j",
		Config: record.FunctionConfig{Secrets: []string{"API_KEY"}}})
	got, err = f.b.Secret(victim, "API_KEY")
	require.NoError(t, err)
	require.Equal(t, "victim's", string(got))

	// A caller without a project reads nothing (no shared fallback).
	_, err = f.b.Secret(WithCaller(ctx, Caller{Function: "x", Version: 1, Config: record.FunctionConfig{Secrets: []string{"API_KEY"}}}), "API_KEY")
	require.ErrorIs(t, err, ErrNotPermitted)
}

// TestSecretLegacyCiphertextOpens: a version 1 ciphertext (bound to the
// name only, from before secrets were per project) that the store's
// migration copied into a project still opens there.
func TestSecretLegacyCiphertextOpens(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	out := make([]byte, 1+f.b.aead.NonceSize())
	out[0] = secretV1
	ct := f.b.aead.Seal(out, out[1:], []byte("old"), []byte(secretADv1+"OLD"))
	require.NoError(t, f.st.SecretPut(ctx, "p", "OLD", ct))
	got, err := f.b.SecretGet(ctx, "p", "OLD")
	require.NoError(t, err)
	require.Equal(t, "old", string(got))
}
