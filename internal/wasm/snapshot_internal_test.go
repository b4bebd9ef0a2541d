package wasm

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

func TestNonZeroRanges(t *testing.T) {
	buf := make([]byte, 5*snapshotChunk+100)
	buf[10] = 1                 // chunk 0
	buf[snapshotChunk+5] = 2    // chunk 1: merges with 0
	buf[3*snapshotChunk] = 3    // chunk 3 alone
	buf[5*snapshotChunk+99] = 4 // the short tail
	got := nonZeroRanges(buf)
	require.Len(t, got, 3)
	require.Equal(t, uint32(0), got[0].offset)
	require.Len(t, got[0].data, 2*snapshotChunk)
	require.Equal(t, uint32(3*snapshotChunk), got[1].offset)
	require.Len(t, got[1].data, snapshotChunk)
	require.Equal(t, uint32(5*snapshotChunk), got[2].offset)
	require.Len(t, got[2].data, 100)
	require.Empty(t, nonZeroRanges(make([]byte, 3*snapshotChunk)))
}

// A reactor cold-starts from its snapshot: the instance answers like one
// that ran _initialize, sees the module's environment (read during init),
// and instances do not share memory.
func TestSnapshotColdStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := internalRuntime(t)
	wasm := wasmtest.Guest(t, wasmtest.Hello)
	m, err := rt.Compile(ctx, wasm, ModuleSpec{Name: "hello@snap", Env: map[string]string{"GREETING": "from the snapshot"}})
	require.NoError(t, err)
	defer m.Close(ctx)
	require.NotNil(t, m.snap, "the hello guest qualifies for a snapshot")
	require.True(t, m.entry.lean, "it was compiled once, in its lean form")
	require.Positive(t, m.snap.size())

	plain, err := New(ctx, Config{CacheDir: wasmtest.SharedCacheDir(), NoSnapshot: true})
	require.NoError(t, err)
	defer plain.Close(ctx)
	pm, err := plain.Compile(ctx, wasm, ModuleSpec{Name: "hello@snap", Env: map[string]string{"GREETING": "from the snapshot"}})
	require.NoError(t, err)
	require.Nil(t, pm.snap)

	req := &wire.Request{Method: "POST", Path: "/hello/ada", RawQuery: "x=1", Body: []byte("body")}
	handle := func(m *Module) (*wire.Response, string) {
		inst, err := m.Instantiate(ctx)
		require.NoError(t, err)
		defer inst.Close(ctx)
		var stdout bytes.Buffer
		resp, err := inst.Handle(ctx, req, Env{Stdout: &stdout})
		require.NoError(t, err)
		// A second call on the same instance works too.
		_, err = inst.Handle(ctx, req, Env{})
		require.NoError(t, err)
		return resp, stdout.String()
	}
	want, wantOut := handle(pm)
	got, gotOut := handle(m)
	require.Equal(t, want, got)
	require.Equal(t, wantOut, gotOut)
	require.Contains(t, string(got.Body), "env.GREETING=from the snapshot\n")

	// Many instances alive at once, each restored from the same snapshot.
	var insts []*Instance
	for range 3 {
		inst, err := m.Instantiate(ctx)
		require.NoError(t, err)
		insts = append(insts, inst)
	}
	for _, inst := range insts {
		resp, err := inst.Handle(ctx, req, Env{})
		require.NoError(t, err)
		require.Equal(t, want.Body, resp.Body)
		require.NoError(t, inst.Close(ctx))
	}
}

// Modules the snapshot does not fit run _initialize as before.
func TestSnapshotFallback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, err := New(ctx, Config{CacheDir: wasmtest.SharedCacheDir(), NoInstrument: true})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, wasmtest.Guest(t, wasmtest.Panic), ModuleSpec{Name: "panic@1"})
	require.NoError(t, err)
	require.Nil(t, m.snap, "a snapshot needs the instrumented module's exported globals")
	inst, err := m.Instantiate(ctx)
	require.NoError(t, err)
	defer inst.Close(ctx)
	resp, err := inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/", RawQuery: "ok=1"}, Env{})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}
