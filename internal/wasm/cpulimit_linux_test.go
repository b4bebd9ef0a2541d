//go:build linux

package wasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
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
