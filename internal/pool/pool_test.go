package pool_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

var (
	rtOnce sync.Once
	rt     *wasm.Runtime
	rtErr  error
)

func testRuntime(t testing.TB) *wasm.Runtime {
	t.Helper()
	rtOnce.Do(func() {
		rt, rtErr = wasm.New(context.Background(), wasm.Config{CacheDir: wasmtest.SharedCacheDir()})
	})
	require.NoError(t, rtErr)
	return rt
}

func module(t testing.TB, guest string) *wasm.Module {
	t.Helper()
	var bin []byte
	if guest == wasmtest.CGI {
		bin = wasmtest.BuildC(t, guest)
	} else {
		bin = wasmtest.Guest(t, guest)
	}
	m, err := testRuntime(t).Compile(context.Background(), bin, wasm.ModuleSpec{Name: guest + "@1"})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close(context.Background()) })
	return m
}

func newPool(t testing.TB, m *wasm.Module, cfg pool.Config) *pool.Pool {
	t.Helper()
	p := pool.New(m, cfg)
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func get(path, query string) *wire.Request {
	return &wire.Request{Method: "GET", Path: path, RawQuery: query}
}

// gate is a guest stdout that blocks the invocation writing to it until
// opened, so a test can hold an instance busy without sleeping.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return len(p), nil
}

func TestWarmReuse(t *testing.T) {
	t.Parallel()
	p := newPool(t, module(t, wasmtest.Hello), pool.Config{MaxInstances: 2})
	resp, cold, err := p.Invoke(context.Background(), get("/one", ""), wasm.Output{})
	require.NoError(t, err)
	require.True(t, cold)
	require.Contains(t, string(resp.Body), "path=/one\n")
	resp, cold, err = p.Invoke(context.Background(), get("/two", ""), wasm.Output{})
	require.NoError(t, err)
	require.False(t, cold)
	require.Contains(t, string(resp.Body), "path=/two\n")
	s := p.Stats()
	require.Equal(t, pool.Stats{Max: 2, Idle: 1, Busy: 0, ColdStarts: 1, Invocations: 2}, s)
}

func TestAtCapacity(t *testing.T) {
	t.Parallel()
	const max = 2
	p := newPool(t, module(t, wasmtest.Hello), pool.Config{MaxInstances: max})
	gates := make([]*gate, max)
	var wg sync.WaitGroup
	errs := make([]error, max)
	for i := range gates {
		gates[i] = newGate()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = p.Invoke(context.Background(), get("/", ""), wasm.Output{Stdout: gates[i]})
		}()
		<-gates[i].entered
	}
	require.Equal(t, max, p.Stats().Busy)
	_, _, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.ErrorIs(t, err, pool.ErrAtCapacity)
	require.ErrorContains(t, err, "hello@1")
	for _, g := range gates {
		close(g.open)
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, pool.Stats{Max: max, Idle: max, ColdStarts: max, Invocations: max}, p.Stats(),
		"a rejected call is not an invocation")
	_, cold, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.NoError(t, err)
	require.False(t, cold)
}

func TestDiscardBrokenInstances(t *testing.T) {
	t.Parallel()
	tests := []struct {
		guest string
		ctx   func() (context.Context, context.CancelFunc)
		check func(*testing.T, error)
	}{
		{wasmtest.Panic, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			func(t *testing.T, err error) {
				var trap *wasm.TrapError
				require.ErrorAs(t, err, &trap)
			}},
		{wasmtest.Loop, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 50*time.Millisecond)
		}, func(t *testing.T, err error) { require.ErrorIs(t, err, wasm.ErrTimeout) }},
	}
	for _, tt := range tests {
		t.Run(tt.guest, func(t *testing.T) {
			t.Parallel()
			p := newPool(t, module(t, tt.guest), pool.Config{MaxInstances: 1})
			_, _, err := p.Invoke(context.Background(), get("/", "ok=1"), wasm.Output{})
			require.NoError(t, err)

			ctx, cancel := tt.ctx()
			_, cold, err := p.Invoke(ctx, get("/", ""), wasm.Output{})
			cancel()
			require.False(t, cold)
			tt.check(t, err)
			s := p.Stats()
			require.Equal(t, 0, s.Idle)
			require.Equal(t, 0, s.Busy)
			require.Equal(t, uint64(1), s.Discarded)

			resp, cold, err := p.Invoke(context.Background(), get("/", "ok=1"), wasm.Output{})
			require.NoError(t, err)
			require.True(t, cold, "the broken instance was not reused")
			require.Equal(t, "fine", string(resp.Body))
		})
	}
}

func TestPrewarmAndReap(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	p := newPool(t, module(t, wasmtest.Hello), pool.Config{MaxInstances: 3, IdleTimeout: 5 * time.Minute, Clock: clk})
	require.NoError(t, p.Prewarm(context.Background(), 2))
	require.Equal(t, 2, p.Stats().Idle)
	require.NoError(t, p.Prewarm(context.Background(), 10), "bounded by MaxInstances")
	require.Equal(t, 3, p.Stats().Idle)
	require.Equal(t, uint64(3), p.Stats().Prewarmed)

	clk.Advance(3 * time.Minute)
	require.Equal(t, 0, p.Reap(), "nothing idle long enough")
	_, cold, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.NoError(t, err)
	require.False(t, cold)

	clk.Advance(3 * time.Minute) // two instances idle 6m, the used one 3m
	require.Equal(t, 2, p.Reap())
	require.Equal(t, 1, p.Stats().Idle)
	clk.Advance(3 * time.Minute)
	require.Equal(t, 1, p.Reap())
	s := p.Stats()
	require.Equal(t, 0, s.Idle)
	require.Equal(t, uint64(3), s.Reaped)

	_, cold, err = p.Invoke(context.Background(), get("/", ""), wasm.Output{})
	require.NoError(t, err)
	require.True(t, cold, "scaled to zero")
}

func TestCloseWaitsForInFlight(t *testing.T) {
	t.Parallel()
	p := pool.New(module(t, wasmtest.Hello), pool.Config{MaxInstances: 2})
	require.NoError(t, p.Prewarm(context.Background(), 1))
	g := newGate()
	invoked := make(chan error, 1)
	var body []byte
	go func() {
		resp, _, err := p.Invoke(context.Background(), get("/inflight", ""), wasm.Output{Stdout: g})
		if err == nil {
			body = resp.Body
		}
		invoked <- err
	}()
	<-g.entered

	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	// New invocations are refused once Close has begun.
	require.Eventually(t, func() bool {
		_, _, err := p.Invoke(context.Background(), get("/", ""), wasm.Output{})
		return errors.Is(err, pool.ErrClosed)
	}, 10*time.Second, time.Millisecond)
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while an invocation was in flight", err)
	default:
	}

	// A Close whose context ends first reports it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, p.Close(ctx), context.Canceled)

	close(g.open)
	require.NoError(t, <-invoked)
	require.Contains(t, string(body), "path=/inflight\n")
	require.NoError(t, <-closed)
	require.Equal(t, 0, p.Stats().Idle)
	require.NoError(t, p.Close(context.Background()), "idempotent")
	require.ErrorIs(t, p.Prewarm(context.Background(), 1), pool.ErrClosed)
}

func TestCommandPool(t *testing.T) {
	t.Parallel()
	p := newPool(t, module(t, wasmtest.CGI), pool.Config{MaxInstances: 1})
	require.NoError(t, p.Prewarm(context.Background(), 1))
	for range 2 {
		resp, cold, err := p.Invoke(context.Background(), get("/c", ""), wasm.Output{})
		require.NoError(t, err)
		require.True(t, cold, "commands always start fresh")
		require.Contains(t, string(resp.Body), "path=/c\n")
	}
	require.Equal(t, pool.Stats{Max: 1, ColdStarts: 2, Invocations: 2}, p.Stats())
}

// TestHammer drives one pool from many goroutines: every call either
// succeeds with its own response or is refused at capacity, and the
// counters add up afterwards.
func TestHammer(t *testing.T) {
	t.Parallel()
	const (
		max        = 3
		goroutines = 12
		calls      = 25
	)
	p := newPool(t, module(t, wasmtest.Hello), pool.Config{MaxInstances: max})
	var ok, refused atomic.Uint64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range calls {
				path := fmt.Sprintf("/g%d/c%d", g, c)
				var logs bytes.Buffer
				resp, _, err := p.Invoke(context.Background(), get(path, ""), wasm.Output{Stdout: &logs})
				if errors.Is(err, pool.ErrAtCapacity) {
					refused.Add(1)
					continue
				}
				if !assertNoError(t, err) {
					return
				}
				if !bytes.Contains(resp.Body, []byte("path="+path+"\n")) || logs.String() != "hello guest handling GET "+path+"\n" {
					t.Errorf("cross-talk: %s got body %q logs %q", path, resp.Body, logs.String())
					return
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	s := p.Stats()
	require.Equal(t, uint64(goroutines*calls), ok.Load()+refused.Load())
	require.Equal(t, ok.Load(), s.Invocations)
	require.Equal(t, 0, s.Busy)
	require.LessOrEqual(t, s.Idle, max)
	require.LessOrEqual(t, s.ColdStarts, uint64(max), "instances are reused, never more than the cap")
	require.NoError(t, p.Close(context.Background()))
}

func assertNoError(t *testing.T, err error) bool {
	if err != nil {
		t.Errorf("invoke: %v", err)
		return false
	}
	return true
}

// TestWaitsForWarmInstance: with enough invocations running, one that
// finds no idle instance waits for a released one instead of cold-starting
// (and cold-starts when none comes in time).
func TestWaitsForWarmInstance(t *testing.T) {
	t.Parallel()
	m := module(t, wasmtest.Hello)
	for _, tc := range []struct {
		name     string
		warmWait time.Duration
		release  bool // A's instance is released while B waits
		wantCold bool
	}{
		{"released in time", time.Minute, true, false},
		{"none in time", 20 * time.Millisecond, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPool(t, m, pool.Config{MaxInstances: 4, WarmWait: tc.warmWait, WaitAbove: 1, NoPrewarmAhead: true})
			a := newGate()
			aDone := make(chan error, 1)
			go func() {
				_, _, err := p.Invoke(context.Background(), get("/a", ""), wasm.Output{Stdout: a})
				aDone <- err
			}()
			<-a.entered
			type result struct {
				cold bool
				err  error
			}
			bDone := make(chan result, 1)
			go func() {
				_, cold, err := p.Invoke(context.Background(), get("/b", ""), wasm.Output{})
				bDone <- result{cold, err}
			}()
			if tc.release {
				// B is waiting once it counts as busy (it registers as a
				// waiter under the same lock).
				for p.Stats().Busy < 2 {
					time.Sleep(time.Millisecond)
				}
				close(a.open)
			}
			b := <-bDone
			require.NoError(t, b.err)
			require.Equal(t, tc.wantCold, b.cold)
			if !tc.release {
				close(a.open)
			}
			require.NoError(t, <-aDone)
			s := p.Stats()
			if tc.wantCold {
				require.Equal(t, uint64(2), s.ColdStarts)
				require.Zero(t, s.WaitedWarm)
			} else {
				require.Equal(t, uint64(1), s.ColdStarts, "B reused A's instance")
				require.Equal(t, uint64(1), s.WaitedWarm)
			}
		})
	}
}
