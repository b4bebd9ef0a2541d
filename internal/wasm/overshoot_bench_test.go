package wasm_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// BenchmarkTimeoutOvershootUnderMemoryPressure measures how far past its
// deadline an invocation returns while memory-hungry guests run: each
// iteration starts bombs alloc guests (allocating and touching 1 MiB at a
// time up to a 1 GiB limit) and one loop guest, all with a 200 ms timeout,
// and records elapsed − timeout for every one of them. Issue 9 saw 1.15 s
// under 24 bombs; the target is ≤ 100 ms. Reports the worst and the median
// overshoot in ms, and the loop guest's worst.
func BenchmarkTimeoutOvershootUnderMemoryPressure(b *testing.B) {
	const (
		bombs   = 4
		timeout = 200 * time.Millisecond
	)
	rt := testRuntime(b)
	alloc := compile(b, rt, wasmtest.Alloc, wasm.ModuleSpec{MemoryMB: 1024})
	loop := compile(b, rt, wasmtest.Loop, wasm.ModuleSpec{})
	var (
		mu               sync.Mutex
		overs, loopOvers []time.Duration
	)
	run := func(m *wasm.Module) {
		inst, err := m.Instantiate(context.Background())
		if err != nil {
			b.Error(err)
			return
		}
		defer inst.Close(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		_, err = inst.Handle(ctx, get("/", ""), wasm.Output{})
		over := time.Since(start) - timeout
		var trap *wasm.TrapError
		if !errors.Is(err, wasm.ErrTimeout) && !errors.As(err, &trap) {
			b.Errorf("%s: want a timeout (or an out-of-memory trap), got %v", m.Name(), err)
		}
		if errors.Is(err, wasm.ErrTimeout) {
			mu.Lock()
			overs = append(overs, over)
			if m == loop {
				loopOvers = append(loopOvers, over)
			}
			mu.Unlock()
		}
	}
	for b.Loop() {
		var wg sync.WaitGroup
		for range bombs {
			wg.Add(1)
			go func() { defer wg.Done(); run(alloc) }()
		}
		wg.Add(1)
		go func() { defer wg.Done(); run(loop) }()
		wg.Wait()
	}
	if len(overs) == 0 {
		b.Fatal("no invocation timed out")
	}
	slices.Sort(overs)
	b.ReportMetric(float64(overs[len(overs)-1])/float64(time.Millisecond), "max-overshoot-ms")
	b.ReportMetric(float64(overs[len(overs)/2])/float64(time.Millisecond), "p50-overshoot-ms")
	if len(loopOvers) > 0 {
		// The loop guest allocates nothing: its overshoot is what the
		// bombs cost a bystander.
		b.ReportMetric(float64(slices.Max(loopOvers))/float64(time.Millisecond), "loop-max-overshoot-ms")
	}
}
