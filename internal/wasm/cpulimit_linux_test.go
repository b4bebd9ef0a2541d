//go:build linux

package wasm_test

import (
	"context"
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// A guest spinning in a loop is stopped by its CPU limit, long before its
// wall-clock deadline, and its instance is not used again.
func TestCPULimitStopsSpinningGuest(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Loop, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	// The wall deadline is far away: only the CPU limit can end the call.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err := inst.Handle(ctx, get("/", ""), wasm.Env{CPULimit: 50 * time.Millisecond})
	require.ErrorIs(t, err, wasm.ErrCPULimit)
	require.NotErrorIs(t, err, wasm.ErrTimeout)
	require.EqualError(t, err, "loop@1: exceeded CPU time limit of 50 ms")
	require.NoError(t, ctx.Err())
	require.True(t, inst.Broken())
	_, err = inst.Handle(ctx, get("/", "ok=1"), wasm.Env{})
	require.ErrorIs(t, err, wasm.ErrInstanceBroken)

	resp, err := instantiate(t, m).Handle(ctx, get("/", "ok=1"), wasm.Env{CPULimit: 50 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}

// Time a guest spends waiting in a host call (here a sleep) is not CPU
// time: a call sleeping far longer than its CPU limit answers.
func TestCPULimitIgnoresWaits(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Sleep, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	env := wasm.Env{CPULimit: 20 * time.Millisecond, Deadline: time.Now().Add(10 * time.Minute)}
	resp, err := inst.Handle(context.Background(), get("/", "ms=300"), env)
	require.NoError(t, err)
	require.Equal(t, "slept 300ms", string(resp.Body))
	require.False(t, inst.Broken())
}

// An instance that ran calls with a limit serves calls without one, and
// calls with a limit, after them: nothing of one call's meter is left
// armed for the next.
func TestCPULimitLeavesInstanceClean(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Hello, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	for n := range 200 {
		env := wasm.Env{}
		if n%2 == 0 {
			env.CPULimit = time.Second
		}
		_, err := inst.Handle(context.Background(), get("/hello/x", ""), env)
		require.NoError(t, err, "call %d", n)
	}
	require.False(t, inst.Broken())
}

// A binding call is not the guest's CPU time, even when the host works on
// the guest's own goroutine (a SQLite query runs there): here the KV burns
// 100 ms of CPU on the calling thread, and waits 200 ms, under a limit of
// 20 ms.
func TestCPULimitIgnoresBindingCalls(t *testing.T) {
	t.Parallel()
	h := newBinder(t)
	h.host.kv = func(req wire.KVRequest) (*wire.KVResponse, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		start := threadTime(t)
		for threadTime(t)-start < 100*time.Millisecond {
		}
		time.Sleep(200 * time.Millisecond)
		return &wire.KVResponse{Found: true, Value: []byte("slow")}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	q := url.Values{"op": {"kv-get"}, "key": {"k"}}
	resp, err := h.inst.Handle(ctx, &wire.Request{Method: "GET", Path: "/", RawQuery: q.Encode()},
		wasm.Env{Call: &host.Call{Function: "binder-test"}, CPULimit: 20 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status, string(resp.Body))
	require.Equal(t, "found=true value=slow", string(resp.Body))
	require.False(t, h.inst.Broken())
}

// threadTime is the calling thread's CPU time (user and system).
func threadTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Error(err)
		return time.Hour
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
