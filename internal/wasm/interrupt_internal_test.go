package wasm

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

var (
	internalOnce sync.Once
	internalRT   *Runtime
	internalErr  error
)

func internalRuntime(t *testing.T) *Runtime {
	t.Helper()
	internalOnce.Do(func() {
		internalRT, internalErr = New(context.Background(), Config{
			CacheDir: wasmtest.SharedCacheDir(),
			Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	})
	require.NoError(t, internalErr)
	return internalRT
}

// The Go and C test guests run instrumented, in a runtime without wazero's
// CloseOnContextDone, and the deadline still stops a looping guest: the
// interrupt global is what stops it.
func TestInstrumentedPathIsUsed(t *testing.T) {
	t.Parallel()
	rt := internalRuntime(t)
	ctx := context.Background()
	for name, wasm := range map[string][]byte{
		"go loop": wasmtest.Guest(t, wasmtest.Loop),
		"c cgi":   wasmtest.BuildC(t, wasmtest.CGI),
	} {
		m, err := rt.Compile(ctx, wasm, ModuleSpec{Name: name + "@1"})
		require.NoError(t, err)
		t.Cleanup(func() { m.Close(ctx) })
		require.True(t, m.entry.interrupt, name)
		require.False(t, m.entry.eng.guarded, name)
	}

	m, err := rt.Compile(ctx, wasmtest.Guest(t, wasmtest.Loop), ModuleSpec{Name: "loop@1"})
	require.NoError(t, err)
	defer m.Close(ctx)
	inst, err := m.Instantiate(ctx)
	require.NoError(t, err)
	defer inst.Close(ctx)
	require.NotNil(t, inst.intr)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = inst.Handle(tctx, &wire.Request{Method: "GET", Path: "/"}, Output{})
	require.ErrorIs(t, err, ErrTimeout)
	require.True(t, inst.Broken(), "stopped by the interrupt global: the runtime has no other way")
}

// A deadline that passes after the guest returned leaves the instance
// usable: the flag set by the late AfterFunc is cleared.
func TestInterruptAfterReturnIsCleared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := internalRuntime(t).Compile(ctx, wasmtest.Guest(t, wasmtest.Loop), ModuleSpec{Name: "loop@2"})
	require.NoError(t, err)
	defer m.Close(ctx)
	inst, err := m.Instantiate(ctx)
	require.NoError(t, err)
	defer inst.Close(ctx)

	// The context ends during a call that then returns normally (as a
	// guest that finishes just before its deadline would).
	cctx, cancel := context.WithCancel(ctx)
	err = inst.intr.call(cctx, func() error {
		cancel()
		// Wait for the AfterFunc through its channel (reading the global
		// while it is written would be a data race), then hand the token
		// back for call.
		<-inst.intr.fired
		require.Equal(t, uint64(1), inst.intr.flag.Get(), "the late deadline set the flag")
		inst.intr.fired <- struct{}{}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, uint64(0), inst.intr.flag.Get(), "cleared after the call")
	resp, err := inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/", RawQuery: "ok=1"}, Output{})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}

// A module the rewriter does not handle (here: it uses SIMD) runs in a
// guarded runtime, and its deadline still holds.
func TestFallbackToGuardedRuntime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, err := internalRuntime(t).Compile(ctx, simdLoopCommand(), ModuleSpec{Name: "simd@1"})
	require.NoError(t, err)
	defer m.Close(ctx)
	require.Equal(t, KindCommand, m.Kind())
	require.False(t, m.entry.interrupt)
	require.True(t, m.entry.eng.guarded)

	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = m.RunCommand(tctx, &wire.Request{Method: "GET", Path: "/"}, Output{})
	require.ErrorIs(t, err, ErrTimeout)
}

// With NoInstrument every module runs guarded.
func TestNoInstrumentOption(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, err := New(ctx, Config{CacheDir: wasmtest.SharedCacheDir(), NoInstrument: true})
	require.NoError(t, err)
	defer rt.Close(ctx)
	m, err := rt.Compile(ctx, wasmtest.BuildC(t, wasmtest.CGI), ModuleSpec{Name: "cgi@1"})
	require.NoError(t, err)
	require.False(t, m.entry.interrupt)
	require.True(t, m.entry.eng.guarded)
	resp, err := m.RunCommand(ctx, &wire.Request{Method: "GET", Path: "/"}, Output{})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
}

// simdLoopCommand is a WASI command whose _start executes a SIMD
// instruction and then loops forever.
func simdLoopCommand() []byte {
	sec := func(id byte, body ...byte) []byte { return append([]byte{id, byte(len(body))}, body...) }
	code := []byte{
		0x00,                                                             // no locals
		0xfd, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1a, // v128.const 0; drop
		0x03, 0x40, 0x0c, 0x00, 0x0b, // loop br 0 end
		0x0b,
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = append(out, sec(1, 1, 0x60, 0, 0)...)                                                                   // type () -> ()
	out = append(out, sec(3, 1, 0)...)                                                                            // one function
	out = append(out, sec(5, 1, 0, 1)...)                                                                         // memory 1 page
	out = append(out, sec(7, 2, 6, '_', 's', 't', 'a', 'r', 't', 0, 0, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0)...) // exports
	out = append(out, sec(10, append([]byte{1, byte(len(code))}, code...)...)...)
	return out
}
