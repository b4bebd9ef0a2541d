package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// initConfigs are the three ways a reactor can be initialised at Compile:
// from its lean code while taking the snapshot, by a plain cold start of
// the instrumented module, and by a cold start of an uninstrumented one
// (wazero's own deadline checks). A failing init must reject each.
var initConfigs = []struct {
	name string
	cfg  wasm.Config
}{
	{"snapshot", wasm.Config{}},
	{"no-snapshot", wasm.Config{NoSnapshot: true}},
	{"not-instrumented", wasm.Config{NoInstrument: true}},
}

// initRuntime is a fresh runtime per test: a refused init is remembered
// per runtime by module hash, and these tests use one guest under
// several environments.
func initRuntime(t *testing.T, cfg wasm.Config) *wasm.Runtime {
	t.Helper()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	rt, err := wasm.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// Issue 11: a function whose init panicked deployed and became active,
// and the panic showed only as `_initialize: wasm error: unreachable`.
// Compile now rejects it with the guest's own panic line and stack.
func TestInitPanicRejected(t *testing.T) {
	t.Parallel()
	bin := wasmtest.Guest(t, wasmtest.BadInit)
	for _, c := range initConfigs {
		t.Run(c.name, func(t *testing.T) {
			rt := initRuntime(t, c.cfg)
			_, err := rt.Compile(context.Background(), bin, wasm.ModuleSpec{Name: "bad@2", Env: map[string]string{"BADINIT": "panic"}})
			require.ErrorIs(t, err, wasm.ErrInvalidModule)
			var ie *wasm.InitError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, "panic: init failed on purpose: DATABASE_URL is not set", ie.Reason)
			require.False(t, ie.OutOfMemory)
			require.True(t, strings.HasPrefix(err.Error(), "init failed: panic: init failed on purpose: DATABASE_URL is not set\n"+
				"guest output during init:\n  panic: init failed on purpose: DATABASE_URL is not set\n"), err.Error())
			require.Equal(t, "bad@2", ie.Module)
			// The stack is there, naming the guest's init function.
			require.Contains(t, ie.Output, "goroutine 1 [running]:")
			require.Contains(t, ie.Output, "main.init.0()")
			require.NotContains(t, err.Error(), "wasm error: unreachable")
		})
	}
}

// An init that never returns is refused at the init timeout.
func TestInitLoopRejected(t *testing.T) {
	t.Parallel()
	bin := wasmtest.Guest(t, wasmtest.BadInit)
	for _, c := range initConfigs {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.InitTimeout = 300 * time.Millisecond
			rt := initRuntime(t, cfg)
			_, err := rt.Compile(context.Background(), bin, wasm.ModuleSpec{Name: "bad@3", Env: map[string]string{"BADINIT": "loop"}})
			require.ErrorIs(t, err, wasm.ErrOverBudget)
			require.ErrorIs(t, err, wasm.ErrInvalidModule)
			require.EqualError(t, err, "compile module bad@3: _initialize did not return within the 300ms init timeout "+
				"(package init or the Go runtime's start loops or blocks); every cold start would hang the same way")
		})
	}
}

// An init that allocates past the memory limit is reported as out of
// memory naming the limit, not as `wasm error: unreachable`.
func TestInitOutOfMemoryRejected(t *testing.T) {
	t.Parallel()
	bin := wasmtest.Guest(t, wasmtest.BadInit)
	for _, c := range initConfigs {
		t.Run(c.name, func(t *testing.T) {
			rt := initRuntime(t, c.cfg)
			_, err := rt.Compile(context.Background(), bin, wasm.ModuleSpec{Name: "bad@4", MemoryMB: 32, Env: map[string]string{"BADINIT": "alloc"}})
			require.ErrorIs(t, err, wasm.ErrInvalidModule)
			var ie *wasm.InitError
			require.ErrorAs(t, err, &ie)
			require.True(t, ie.OutOfMemory)
			require.True(t, strings.HasPrefix(err.Error(), "init failed: out of memory: "+
				"the guest needed more than the function's memory limit of 32 MB (raise memory in strata.yaml, or allocate less)\n"), err.Error())
			require.Contains(t, ie.Output, "fatal error: out of memory")
		})
	}
}

// The same guest with an init that succeeds compiles and serves.
func TestInitSucceedsServes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bin := wasmtest.Guest(t, wasmtest.BadInit)
	for _, c := range initConfigs {
		t.Run(c.name, func(t *testing.T) {
			rt := initRuntime(t, c.cfg)
			m, err := rt.Compile(ctx, bin, wasm.ModuleSpec{Name: "good@1", Env: map[string]string{"BADINIT": "no"}})
			require.NoError(t, err)
			defer m.Close(ctx)
			inst, err := m.Instantiate(ctx)
			require.NoError(t, err)
			defer inst.Close(ctx)
			resp, err := inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/"}, wasm.Env{})
			require.NoError(t, err)
			require.Equal(t, "ready", string(resp.Body))
		})
	}
}

// A handler that runs out of memory is reported as out of memory, naming
// the function's limit.
func TestRequestOutOfMemoryReported(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt := initRuntime(t, wasm.Config{})
	m, err := rt.Compile(ctx, wasmtest.Guest(t, wasmtest.Alloc), wasm.ModuleSpec{Name: "alloc@1", MemoryMB: 32})
	require.NoError(t, err)
	defer m.Close(ctx)
	inst, err := m.Instantiate(ctx)
	require.NoError(t, err)
	defer inst.Close(ctx)
	var stderr syncBuf
	_, err = inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/"}, wasm.Env{Stderr: &stderr})
	var te *wasm.TrapError
	require.True(t, errors.As(err, &te), "got %v", err)
	require.EqualError(t, err, "module alloc@1: invoke: out of memory: the guest needed more than the function's memory limit "+
		"of 32 MB (raise memory in strata.yaml, or allocate less)")
	require.Contains(t, stderr.String(), "fatal error: out of memory")
}

// syncBuf is a buffer safe for the guest's writes and the test's read.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
