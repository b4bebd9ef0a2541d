package bindings

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/store"
)

func TestSecretRoundTrip(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	value := []byte("sk_live_\x00\xff binary")
	require.NoError(t, f.b.SecretSet(ctx, "STRIPE_KEY", value))

	f.st.mu.Lock()
	ct := f.st.secrets["STRIPE_KEY"]
	f.st.mu.Unlock()
	require.NotContains(t, string(ct), "sk_live", "the store holds ciphertext only")

	got, err := f.b.SecretGet(ctx, "STRIPE_KEY")
	require.NoError(t, err)
	require.Equal(t, value, got)

	// Two encryptions of one value differ (random nonce).
	require.NoError(t, f.b.SecretSet(ctx, "STRIPE_KEY", value))
	f.st.mu.Lock()
	require.NotEqual(t, ct, f.st.secrets["STRIPE_KEY"])
	f.st.mu.Unlock()
}

func TestSecretTamperedAndMovedAreRejected(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	require.NoError(t, f.b.SecretSet(ctx, "A", []byte("alpha")))
	f.st.mu.Lock()
	ct := f.st.secrets["A"]
	f.st.mu.Unlock()

	tampered := append([]byte(nil), ct...)
	tampered[len(tampered)-1] ^= 1
	require.NoError(t, f.st.SecretPut(ctx, "A", tampered))
	_, err := f.b.SecretGet(ctx, "A")
	require.ErrorContains(t, err, "cannot decrypt")

	// The intact ciphertext of A stored under B does not open as B.
	require.NoError(t, f.st.SecretPut(ctx, "B", ct))
	_, err = f.b.SecretGet(ctx, "B")
	require.ErrorContains(t, err, "cannot decrypt")

	require.NoError(t, f.st.SecretPut(ctx, "C", []byte{9, 9}))
	_, err = f.b.SecretGet(ctx, "C")
	require.Error(t, err)
}

func TestSecretGuestAccess(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	require.NoError(t, f.b.SecretSet(ctx, "TOKEN", []byte("t0k")))

	allowed := as("app", "i1", store.FunctionConfig{Secrets: []string{"TOKEN", "UNSET"}})
	got, err := f.b.Secret(allowed, "TOKEN")
	require.NoError(t, err)
	require.Equal(t, []byte("t0k"), got)

	_, err = f.b.Secret(as("other", "i2", store.FunctionConfig{Secrets: []string{"ELSE"}}), "TOKEN")
	require.ErrorIs(t, err, ErrNotPermitted)
	require.ErrorContains(t, err, "other@1 may not read secret TOKEN")

	_, err = f.b.Secret(ctx, "TOKEN")
	require.ErrorIs(t, err, ErrNoCaller)

	_, err = f.b.Secret(allowed, "UNSET")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorContains(t, err, "secret UNSET is not set")

	require.ErrorIs(t, f.b.SecretSet(ctx, "bad/name", []byte("x")), ErrBadRequest)
}

func TestSecretKeyFile(t *testing.T) {
	dir := t.TempDir()
	st := newMemStore()
	ctx := context.Background()
	b1, err := New(ctx, Config{Store: st, DataDir: dir})
	require.NoError(t, err)
	require.NoError(t, b1.SecretSet(ctx, "K", []byte("v")))
	require.NoError(t, b1.Close())

	fi, err := os.Stat(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// A restart reads the same key.
	b2, err := New(ctx, Config{Store: st, DataDir: dir})
	require.NoError(t, err)
	defer b2.Close()
	got, err := b2.SecretGet(ctx, "K")
	require.NoError(t, err)
	require.Equal(t, []byte("v"), got)

	// Another key cannot read it.
	b3, err := New(ctx, Config{Store: st, DataDir: dir, Key: make([]byte, 32)})
	require.NoError(t, err)
	defer b3.Close()
	_, err = b3.SecretGet(ctx, "K")
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
