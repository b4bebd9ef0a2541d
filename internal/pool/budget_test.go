package pool_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// moduleMB compiles the hello guest under a memory limit of mb MB.
func moduleMB(t testing.TB, name string, mb int) *wasm.Module {
	t.Helper()
	m, err := testRuntime(t).Compile(context.Background(), wasmtest.Guest(t, wasmtest.Hello),
		wasm.ModuleSpec{Name: name, MemoryMB: mb})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

// hold starts an invocation on p that stays busy until the returned
// release is called.
func hold(t *testing.T, p *pool.Pool) (release func()) {
	t.Helper()
	g := newGate()
	done := make(chan error, 1)
	go func() {
		_, _, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{Stdout: g})
		done <- err
	}()
	select {
	case <-g.entered:
	case err := <-done:
		t.Fatalf("held invocation ended early: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(g.open)
			require.NoError(t, <-done)
		})
	}
	// A failing test still lets its held invocations end (before the
	// pool's Close, which waits for them).
	t.Cleanup(release)
	return release
}

// A node's instances together hold at most the memory budget: once two
// 64 MB instances of project A's function are busy in a 160 MB budget, a
// third instance (of another function) is refused with a 429-class error
// naming the budget, not started to take the node out of memory. When A's
// calls end, their idle instances make way for the other function.
func TestMemoryBudgetRefusesBeyond(t *testing.T) {
	t.Parallel()
	budget := pool.NewBudget(160, 0)
	a := newPool(t, moduleMB(t, "a-fn@1", 64), pool.Config{MaxInstances: 10, Budget: budget, NoPrewarmAhead: true})
	b := newPool(t, moduleMB(t, "b-fn@1", 64), pool.Config{MaxInstances: 10, Budget: budget, NoPrewarmAhead: true})

	r1, r2 := hold(t, a), hold(t, a)
	require.Equal(t, pool.BudgetStats{LimitMB: 160, ProjectMB: 160, UsedMB: 128}, budget.Stats())

	_, _, err := b.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, pool.ErrMemoryBudget)
	require.ErrorIs(t, err, pool.ErrAtCapacity, "the gateway answers 429 for it")
	require.ErrorContains(t, err, "b-fn@1: a new 64 MB instance does not fit (128 of 160 MB held by live instances)")
	_, _, err = a.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, pool.ErrMemoryBudget, "the budget binds the function that fills it too")

	r1()
	r2()
	// A's two instances are idle now and still hold their memory; B's cold
	// start closes one of them (an idle instance is a cache) and runs.
	resp, cold, err := b.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.NoError(t, err)
	require.True(t, cold)
	require.Equal(t, 200, resp.Status)
	require.Equal(t, uint64(1), a.Stats().Shed)
	require.Equal(t, pool.BudgetStats{LimitMB: 160, ProjectMB: 160, UsedMB: 128}, budget.Stats())

	// Closing the pools gives everything back.
	require.NoError(t, a.Close(context.Background()))
	require.NoError(t, b.Close(context.Background()))
	require.Equal(t, int64(0), budget.Stats().UsedMB)
}

// A function whose one instance is larger than the whole budget can never
// run; the error says so and what to change.
func TestMemoryBudgetTooSmallForOneInstance(t *testing.T) {
	t.Parallel()
	p := newPool(t, moduleMB(t, "big@1", 256), pool.Config{Budget: pool.NewBudget(100, 0)})
	_, _, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, pool.ErrMemoryBudget)
	require.ErrorContains(t, err, "big@1 needs 256 MB per instance, more than a project's share of the node's instance memory budget (100 of 100 MB")
}

// Provisioned instances are a promise: shedding for the budget never takes
// a pool below its provisioned count.
func TestMemoryBudgetKeepsProvisioned(t *testing.T) {
	t.Parallel()
	budget := pool.NewBudget(100, 0)
	a := newPool(t, moduleMB(t, "prov@1", 64), pool.Config{MaxInstances: 2, Provisioned: 1, Budget: budget})
	require.NoError(t, a.Prewarm(context.Background(), 1))
	b := newPool(t, moduleMB(t, "other@1", 64), pool.Config{Budget: budget})
	_, _, err := b.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, pool.ErrMemoryBudget)
	require.Equal(t, 1, a.Stats().Idle)
	require.Equal(t, uint64(0), a.Stats().Shed)
}

// One project may hold only its share of the budget: project A's third
// 64 MB instance does not fit in its 130 MB share although the node has
// room, and project B's instance still starts.
func TestMemoryBudgetProjectShare(t *testing.T) {
	t.Parallel()
	budget := pool.NewBudget(200, 130)
	a := newPool(t, moduleMB(t, "a-fn@1", 64), pool.Config{MaxInstances: 10, Budget: budget, Project: "tenant-a", NoPrewarmAhead: true})
	b := newPool(t, moduleMB(t, "b-fn@1", 64), pool.Config{MaxInstances: 10, Budget: budget, Project: "tenant-b", NoPrewarmAhead: true})
	hold(t, a)
	hold(t, a)
	_, _, err := a.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, pool.ErrMemoryBudget)
	require.ErrorContains(t, err, "a-fn@1: a new 64 MB instance does not fit in project tenant-a's share of the node's instance memory (128 of 130 MB")
	resp, _, err := b.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.NoError(t, err)
	require.Equal(t, 200, resp.Status)
}
