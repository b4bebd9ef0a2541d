package wasm

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkInterruptMechanisms compares, in one run, a warm call of the
// hello guest under the three ways of (not) enforcing a deadline:
// instrumented (the default), guarded (wazero's WithCloseOnContextDone,
// Config.NoInstrument) and unchecked (no enforcement: the floor). The
// context has a deadline, as every real invocation does.
func BenchmarkInterruptMechanisms(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{
		{"instrumented", Config{}},
		{"guarded", Config{NoInstrument: true}},
		{"unchecked", Config{unchecked: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			mode.cfg.CacheDir = wasmtest.SharedCacheDir()
			rt, err := New(ctx, mode.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			m, err := rt.Compile(ctx, wasmtest.Guest(b, wasmtest.Hello), ModuleSpec{Name: "hello@1"})
			if err != nil {
				b.Fatal(err)
			}
			inst, err := m.Instantiate(ctx)
			if err != nil {
				b.Fatal(err)
			}
			req := &wire.Request{Method: "GET", Path: "/hello/world"}
			var samples []time.Duration
			for b.Loop() {
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				start := time.Now()
				if _, err := inst.Handle(cctx, req, Env{}); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
				cancel()
			}
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkColdStartModes compares, in one run, the cold start
// (Instantiate plus the first Handle) of the hello guest: from a snapshot
// mapped copy-on-write (the default) or copied into the instance,
// instrumented without a snapshot, and as before both
// (wazero's WithCloseOnContextDone, data segments and _initialize).
func BenchmarkColdStartModes(b *testing.B) {
	for _, mode := range []struct {
		name string
		cfg  Config
	}{
		{"snapshot", Config{}},
		{"snapshot-copied", Config{copySnapshot: true}},
		{"no-snapshot", Config{NoSnapshot: true}},
		{"guarded", Config{NoInstrument: true}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			mode.cfg.CacheDir = wasmtest.SharedCacheDir()
			rt, err := New(ctx, mode.cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			m, err := rt.Compile(ctx, wasmtest.Guest(b, wasmtest.Hello), ModuleSpec{Name: "hello@1"})
			if err != nil {
				b.Fatal(err)
			}
			req := &wire.Request{Method: "GET", Path: "/hello/world"}
			var samples []time.Duration
			for b.Loop() {
				cctx, cancel := context.WithTimeout(ctx, time.Minute)
				start := time.Now()
				inst, err := m.Instantiate(cctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := inst.Handle(cctx, req, Env{}); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
				cancel()
				b.StopTimer()
				inst.Close(ctx)
				b.StartTimer()
			}
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds()), "p99-µs")
		})
	}
}
