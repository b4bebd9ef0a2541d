package wasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// Env.Deadline bounds a call whose context has no deadline, as the
// invoker passes the function's timeout.
func TestEnvDeadlineTimesOut(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Loop, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	start := time.Now()
	_, err := inst.Handle(context.Background(), get("/", ""), wasm.Env{Deadline: time.Now().Add(50 * time.Millisecond)})
	require.ErrorIs(t, err, wasm.ErrTimeout)
	require.True(t, inst.Broken())
	require.Less(t, time.Since(start), 5*time.Second)
}

// A caller gone before the call starts stops the guest at once, and one
// that goes away within the first millisecond (before the instance
// watches its context) stops it too.
func TestCanceledEarly(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Loop, wasm.ModuleSpec{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := instantiate(t, m).Handle(ctx, get("/", ""), wasm.Env{Deadline: time.Now().Add(time.Minute)})
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Microsecond, cancel)
	_, err = instantiate(t, m).Handle(ctx, get("/", ""), wasm.Env{Deadline: time.Now().Add(time.Minute)})
	require.ErrorIs(t, err, context.Canceled)
	require.NotErrorIs(t, err, wasm.ErrTimeout)
}

// Warm calls with deadlines and cancelable contexts leave the instance
// good: no interrupt from one call reaches the next.
func TestWarmCallsWithDeadlines(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Panic, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		// Deadlines at or just past the call's end race the guest's
		// return: the call may time out, but must never leave the
		// instance trapping on the next call.
		resp, err := inst.Handle(ctx, get("/", "ok=1"), wasm.Env{Deadline: time.Now().Add(time.Duration(i%20) * 10 * time.Microsecond)})
		cancel()
		if err != nil {
			require.ErrorIs(t, err, wasm.ErrTimeout)
			inst = instantiate(t, m)
			continue
		}
		require.Equal(t, "fine", string(resp.Body))
	}
	resp, err := inst.Handle(context.Background(), get("/", "ok=1"), wasm.Env{Deadline: time.Now().Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, "fine", string(resp.Body))
}

// Callers going away at any moment around the 1 ms at which the instance
// starts watching them: each call ends either answered or canceled, never
// timed out, and an instance that answered serves the next call.
func TestCancelAroundTheWatch(t *testing.T) {
	t.Parallel()
	m := compile(t, testRuntime(t), wasmtest.Sleep, wasm.ModuleSpec{})
	inst := instantiate(t, m)
	for i := range 60 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Duration(i%30)*100*time.Microsecond, cancel)
		_, err := inst.Handle(ctx, get("/", "ms=2"), wasm.Env{Deadline: time.Now().Add(time.Minute)})
		cancel()
		if err != nil {
			require.ErrorIs(t, err, context.Canceled)
			require.True(t, inst.Broken())
			inst = instantiate(t, m)
			continue
		}
		require.False(t, inst.Broken())
	}
	_, err := inst.Handle(context.Background(), get("/", "ms=1"), wasm.Env{Deadline: time.Now().Add(time.Minute)})
	require.NoError(t, err)
}
