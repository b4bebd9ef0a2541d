package bindings

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

func TestKV(t *testing.T) {
	f := setup(t)
	f.st.addNamespace("sessions")
	ctx := as("app", "i1", record.FunctionConfig{Bindings: []record.Binding{{Name: "cache", Kind: record.BindingKV, Resource: "sessions"}}})
	kv := func(req wire.KVRequest) *wire.KVResponse {
		t.Helper()
		req.Binding = "cache"
		resp, err := f.b.KV(ctx, req)
		require.NoError(t, err)
		return resp
	}

	require.False(t, kv(wire.KVRequest{Op: wire.KVGet, Key: "a"}).Found)
	kv(wire.KVRequest{Op: wire.KVPut, Key: "a", Value: []byte{0, 1, 0xff}})
	kv(wire.KVRequest{Op: wire.KVPut, Key: "b", Value: []byte("2"), TTLMS: 60_000})
	kv(wire.KVRequest{Op: wire.KVPut, Key: "c", Value: []byte("3")})
	got := kv(wire.KVRequest{Op: wire.KVGet, Key: "a"})
	require.True(t, got.Found)
	require.Equal(t, []byte{0, 1, 0xff}, got.Value)
	require.Zero(t, got.ExpiresAtMS)
	require.NotZero(t, kv(wire.KVRequest{Op: wire.KVGet, Key: "b"}).ExpiresAtMS)

	page := kv(wire.KVRequest{Op: wire.KVList, Limit: 2})
	require.Len(t, page.Entries, 2)
	require.Equal(t, "b", page.Next)
	page = kv(wire.KVRequest{Op: wire.KVList, Limit: 2, After: page.Next})
	require.Len(t, page.Entries, 1)
	require.Equal(t, "c", page.Entries[0].Key)
	require.Empty(t, page.Next)

	require.True(t, kv(wire.KVRequest{Op: wire.KVDelete, Key: "a"}).Found)
	require.False(t, kv(wire.KVRequest{Op: wire.KVDelete, Key: "a"}).Found)

	for _, tt := range []struct {
		name string
		req  wire.KVRequest
		want error
	}{
		{"empty key", wire.KVRequest{Op: wire.KVGet, Binding: "cache"}, ErrBadRequest},
		{"long key", wire.KVRequest{Op: wire.KVGet, Binding: "cache", Key: strings.Repeat("k", MaxKVKey+1)}, ErrBadRequest},
		{"big value", wire.KVRequest{Op: wire.KVPut, Binding: "cache", Key: "k", Value: make([]byte, MaxKVValue+1)}, ErrLimit},
		{"unknown op", wire.KVRequest{Op: "incr", Binding: "cache", Key: "k"}, ErrBadRequest},
		{"undeclared", wire.KVRequest{Op: wire.KVGet, Binding: "other", Key: "k"}, ErrNotPermitted},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.b.KV(ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
		})
	}
	_, err := f.b.KV(context.Background(), wire.KVRequest{Op: wire.KVGet, Binding: "cache", Key: "k"})
	require.ErrorIs(t, err, ErrNoCaller)
}
