package wasm

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// budgetRuntime is a runtime of its own (its in-memory compilation cache
// cannot hold a bomb from another test) that waits, at the end of the
// test, for the compiles the test abandoned.
func budgetRuntime(t *testing.T, cfg Config) *Runtime {
	t.Helper()
	r, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		r.compiling.Wait()
		_ = r.Close(context.Background())
	})
	return r
}

// Found item 4: one function of 12,000 loops each with a br_if compiles
// for over a minute in wazero. Its shape is refused before compiling, at
// once, naming the function and the limit; a real module passes.
func TestCompileBombRefusedByShape(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := budgetRuntime(t, Config{})
	_, err := r.Compile(ctx, wasmtest.CompileBomb(12000, false), ModuleSpec{Name: "bomb@1"})
	require.ErrorIs(t, err, ErrOverBudget)
	require.ErrorIs(t, err, ErrInvalidModule)
	require.ErrorContains(t, err, "compile module bomb@1: function 0 has 24000 control instructions")
	require.ErrorContains(t, err, "over the limit of 10000")

	// Below the limit the same shape compiles (and is a valid command).
	m, err := r.Compile(ctx, wasmtest.CompileBomb(100, false), ModuleSpec{Name: "small@1"})
	require.NoError(t, err)
	require.Equal(t, KindCommand, m.Kind())
	require.NoError(t, m.Close(ctx))
}

// A bomb the shape check cannot read (it holds a SIMD instruction, which
// internal/instrument does not parse) is stopped by the compile budget:
// Compile returns at the budget with an error naming it, and the refusal
// is remembered so that the same bytes are not compiled again.
func TestCompileBudgetRefusesSlowModule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := budgetRuntime(t, Config{CompileBudget: 50 * time.Millisecond, MaxCompiles: 2})
	bomb := wasmtest.CompileBomb(6000, true) // about 2 s to compile
	_, err := r.Compile(ctx, bomb, ModuleSpec{Name: "bomb@2"})
	require.ErrorIs(t, err, ErrOverBudget)
	require.ErrorIs(t, err, ErrInvalidModule)
	require.ErrorContains(t, err, "compile module bomb@2: compilation exceeded the 50ms compile budget")

	_, err = r.Compile(ctx, bomb, ModuleSpec{Name: "bomb@3"})
	require.ErrorIs(t, err, ErrOverBudget)
	require.ErrorContains(t, err, "refused recently; not compiled again")

	// The runtime still compiles other modules.
	m, err := r.Compile(ctx, wasmtest.CompileBomb(10, true), ModuleSpec{Name: "small@2"})
	require.NoError(t, err)
	require.NoError(t, m.Close(ctx))
}

// Found item 4: the compile went on after the client went away. Compile
// now stops waiting when its context ends, and says why.
func TestCompileStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	r := budgetRuntime(t, Config{CompileBudget: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once wazero is compiling (the compile holds a slot).
		for len(r.compileSlots) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := r.Compile(ctx, wasmtest.CompileBomb(6000, true), ModuleSpec{Name: "bomb@4"})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "compile module bomb@4: compilation stopped")
	require.False(t, errors.Is(err, ErrOverBudget), "a cancelled compile is not a refusal")
}

// Abandoned compiles keep their slot until wazero finishes, so they cannot
// pile up: with every slot taken, a compile waits at most the budget and
// then fails as busy, not as a bad module.
func TestAbandonedCompilesHoldSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := budgetRuntime(t, Config{CompileBudget: 50 * time.Millisecond, MaxCompiles: 1})
	_, err := r.Compile(ctx, wasmtest.CompileBomb(6000, true), ModuleSpec{Name: "bomb@5"})
	require.ErrorIs(t, err, ErrOverBudget)
	_, err = r.Compile(ctx, wasmtest.CompileBomb(10, true), ModuleSpec{Name: "small@3"})
	require.ErrorIs(t, err, ErrCompileBusy)
	require.False(t, errors.Is(err, ErrInvalidModule), "a busy compiler says nothing about the module")
	require.ErrorContains(t, err, "no compile slot came free within 50ms")
	r.compiling.Wait()
	m, err := r.Compile(ctx, wasmtest.CompileBomb(10, true), ModuleSpec{Name: "small@4"})
	require.NoError(t, err, "the slot is free once the abandoned compile ends")
	require.NoError(t, m.Close(ctx))
}

// Found item 4: an _initialize that never returned cost 30 s at deploy and
// the module was accepted anyway. It is now refused at the init timeout
// with an error that says so; an _initialize that returns is fine.
func TestInitializeThatNeverReturnsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := budgetRuntime(t, Config{InitTimeout: 100 * time.Millisecond})
	_, err := r.Compile(ctx, wasmtest.InitLoop(-1), ModuleSpec{Name: "hang@1"})
	require.ErrorIs(t, err, ErrOverBudget)
	require.ErrorIs(t, err, ErrInvalidModule)
	require.ErrorContains(t, err, "compile module hang@1: _initialize did not return within the 100ms init timeout")

	m, err := r.Compile(ctx, wasmtest.InitLoop(10), ModuleSpec{Name: "quick@1"})
	require.NoError(t, err)
	require.Equal(t, KindReactor, m.Kind())
	require.NotNil(t, m.snap, "its snapshot was taken")
	require.NoError(t, m.Close(ctx))
}

// Two deploys compile the same bytes and the first one's client goes
// away: the second still gets its module instead of the first one's
// cancellation.
func TestSharedCompileSurvivesOtherCallersCancel(t *testing.T) {
	t.Parallel()
	r := budgetRuntime(t, Config{CompileBudget: time.Hour, MaxCompiles: 2})
	bomb := wasmtest.CompileBomb(3000, true)
	key := moduleKey{hash: sha256.Sum256(bomb), memoryMB: DefaultMemoryMB, lean: true}
	refs := func() int {
		r.mu.Lock()
		defer r.mu.Unlock()
		if e := r.modules[key]; e != nil {
			return e.refs
		}
		return 0
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	first := make(chan error, 1)
	go func() {
		_, err := r.Compile(ctx1, bomb, ModuleSpec{Name: "same@1"})
		first <- err
	}()
	for refs() < 1 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan error, 1)
	go func() {
		m, err := r.Compile(context.Background(), bomb, ModuleSpec{Name: "same@2"})
		if err == nil {
			err = m.Close(context.Background())
		}
		second <- err
	}()
	for refs() < 2 { // the second waits for the first's compile
		time.Sleep(time.Millisecond)
	}
	cancel1()
	require.ErrorIs(t, <-first, context.Canceled)
	require.NoError(t, <-second)
}
