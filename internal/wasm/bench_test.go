package wasm_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkColdStart measures Instantiate (including _initialize) plus the
// first Handle of the hello guest, and reports p50 and p99.
// Target: p50 ≤ 5 ms.
func BenchmarkColdStart(b *testing.B) {
	m := compile(b, testRuntime(b), wasmtest.Hello, wasm.ModuleSpec{})
	ctx := context.Background()
	req := get("/hello/world", "")
	var samples []time.Duration
	for b.Loop() {
		start := time.Now()
		inst, err := m.Instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inst.Handle(ctx, req, wasm.Output{}); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		b.StopTimer()
		inst.Close(ctx)
		b.StartTimer()
	}
	reportPercentiles(b, samples)
}

// BenchmarkCommand measures one CGI invocation of the C guest (a fresh
// instance each time). Target: p50 ≤ 100 µs.
func BenchmarkCommand(b *testing.B) {
	m, err := testRuntime(b).Compile(context.Background(), wasmtest.BuildC(b, wasmtest.CGI), wasm.ModuleSpec{Name: "cgi@1"})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	req := &wire.Request{Method: "GET", Path: "/x"}
	var samples []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := m.RunCommand(context.Background(), req, wasm.Output{}); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	reportPercentiles(b, samples)
}

func reportPercentiles(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[min(len(samples)-1, int(q*float64(len(samples))))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
}

// BenchmarkHandle measures a warm call on one instance directly, without
// the pool, for a trivial handler (panic guest with ?ok=1) and for hello.
func BenchmarkHandle(b *testing.B) {
	for _, tc := range []struct{ guest, query string }{{wasmtest.Panic, "ok=1"}, {wasmtest.Hello, ""}} {
		b.Run(tc.guest, func(b *testing.B) {
			m := compile(b, testRuntime(b), tc.guest, wasm.ModuleSpec{})
			inst := instantiate(b, m)
			req := get("/x", tc.query)
			var samples []time.Duration
			for b.Loop() {
				start := time.Now()
				if _, err := inst.Handle(context.Background(), req, wasm.Output{}); err != nil {
					b.Fatal(err)
				}
				samples = append(samples, time.Since(start))
			}
			reportPercentiles(b, samples)
		})
	}
}
