package pool_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

func TestProvisionedSurvivesReap(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := newPool(t, module(t, wasmtest.Hello), pool.Config{MaxInstances: 4, Provisioned: 2, IdleTimeout: 5 * time.Minute, Clock: clk})
	require.NoError(t, p.Prewarm(context.Background(), 2))
	s := p.Stats()
	require.Equal(t, 2, s.Idle)
	require.Equal(t, 2, s.Provisioned)

	clk.Advance(time.Hour)
	require.Equal(t, 0, p.Reap(), "provisioned instances are never reaped")
	_, cold, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.NoError(t, err)
	require.False(t, cold)

	// Above the provisioned count, idle instances scale down to it.
	require.NoError(t, p.Prewarm(context.Background(), 4))
	require.Equal(t, 4, p.Stats().Idle)
	clk.Advance(time.Hour)
	require.Equal(t, 2, p.Reap())
	require.Equal(t, 2, p.Stats().Idle)

	// A busy instance counts toward the provisioned count.
	g := newGate()
	done := make(chan error, 1)
	go func() {
		_, _, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{Stdout: g})
		done <- err
	}()
	<-g.entered
	clk.Advance(time.Hour)
	require.Equal(t, 0, p.Reap(), "one busy + one idle is exactly the provisioned count")
	close(g.open)
	require.NoError(t, <-done)
	require.Equal(t, 2, p.Stats().Idle)
	require.Equal(t, uint64(0), p.Stats().ColdStarts)
}

func TestProvisionedReplacesDiscarded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		guest string
		ctx   func() (context.Context, context.CancelFunc)
	}{
		{wasmtest.Panic, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }},
		{wasmtest.Loop, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.guest, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, module(t, tt.guest), pool.Config{MaxInstances: 3, Provisioned: 2})
			require.NoError(t, p.Prewarm(context.Background(), 2))

			ctx, cancel := tt.ctx()
			_, cold, err := p.Invoke(ctx, get("/", ""), wasm.Output{})
			cancel()
			require.Error(t, err)
			require.False(t, cold)
			require.Equal(t, uint64(1), p.Stats().Discarded)

			// The replacement is created in the background, off the
			// request path.
			require.Eventually(t, func() bool {
				s := p.Stats()
				return s.Idle == 2 && s.Replenished == 1
			}, 30*time.Second, 5*time.Millisecond)
			for range 2 {
				resp, cold, err := p.Invoke(context.Background(), get("/", "ok=1"), wasm.Output{})
				require.NoError(t, err)
				require.False(t, cold, "served by a provisioned instance")
				require.Equal(t, "fine", string(resp.Body))
			}
			require.Equal(t, uint64(0), p.Stats().ColdStarts)
		})
	}
}

// burst runs n invocations that each stay busy until all have started,
// launched in waves of `wave` (each wave waits until its invocations are
// running), so concurrency rises as in a real burst. It returns the pool's
// stats once every invocation finished.
func burst(t *testing.T, p *pool.Pool, n, wave int) pool.Stats {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	gates := make([]*gate, n)
	for i := range gates {
		gates[i] = newGate()
	}
	for start := 0; start < n; start += wave {
		for i := start; i < min(start+wave, n); i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = p.Invoke(context.Background(), get("/", ""), wasm.Output{Stdout: gates[i]})
				if errs[i] != nil {
					gates[i].once.Do(func() { close(gates[i].entered) })
				}
			}()
		}
		for i := start; i < min(start+wave, n); i++ {
			<-gates[i].entered
		}
	}
	for _, g := range gates {
		close(g.open)
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "invocation %d", i)
	}
	pool.WaitFiller(p)
	return p.Stats()
}

// TestBurstColdStarts runs a rising burst against pools with and without
// provisioned instances and pre-warming ahead of demand. The hard bounds:
// provisioned instances serve warm, and with neither feature every
// invocation of a burst that never releases an instance is cold. How far
// pre-warming lowers the count depends on scheduling, so it is logged.
func TestBurstColdStarts(t *testing.T) {
	t.Parallel()
	const (
		n           = 24
		wave        = 4
		provisioned = 8
	)
	m := module(t, wasmtest.Hello)
	tests := []struct {
		name        string
		provisioned int
		noAhead     bool
		maxCold     uint64
		exactCold   bool
	}{
		{"provisioned+ahead", provisioned, false, n - provisioned, false},
		{"provisioned", provisioned, true, n - provisioned, true},
		{"ahead", 0, false, n, false},
		{"neither", 0, true, n, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			p := newPool(t, m, pool.Config{MaxInstances: n, Provisioned: tt.provisioned, NoPrewarmAhead: tt.noAhead,
				IdleTimeout: time.Minute, Clock: clk})
			require.NoError(t, p.Prewarm(context.Background(), tt.provisioned))
			s := burst(t, p, n, wave)
			t.Logf("%s: burst of %d in waves of %d: %d cold starts, %d pre-warmed ahead, %d provisioned",
				tt.name, n, wave, s.ColdStarts, s.PrewarmedAhead, s.Prewarmed)
			require.Equal(t, uint64(n), s.Invocations)
			require.LessOrEqual(t, s.ColdStarts, tt.maxCold)
			if tt.exactCold {
				require.Equal(t, tt.maxCold, s.ColdStarts)
				require.Zero(t, s.PrewarmedAhead)
			}
			require.LessOrEqual(t, s.Idle, n, "never more instances than MaxInstances")
			require.Equal(t, uint64(s.Idle), s.ColdStarts+s.Prewarmed+s.PrewarmedAhead,
				"every instance kept is counted once, by how it was created")

			// Idle instances scale down to the provisioned count (zero
			// without).
			clk.Advance(2 * time.Minute)
			p.Reap()
			require.Equal(t, tt.provisioned, p.Stats().Idle)
		})
	}
}
