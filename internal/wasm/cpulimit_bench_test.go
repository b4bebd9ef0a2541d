//go:build linux

package wasm_test

import (
	"context"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// BenchmarkCPULimit measures what a CPU limit costs a warm call: a trivial
// handler and the hello guest (all CPU: the meter's fixed cost shows), and
// a guest sleeping 1 ms (a waiting host call: the meter pauses and the
// thread is unlocked). Each iteration makes one call without a limit and
// one with, on two instances, so that a machine whose load drifts during
// the run weighs on both alike; it reports the mean of each
// (nolimit-ns/call, limit-ns/call) and their ratio (limit/nolimit).
func BenchmarkCPULimit(b *testing.B) {
	cases := []struct {
		name, guest, path, query string
	}{
		{"trivial", wasmtest.Panic, "/x", "ok=1"},
		{"hello", wasmtest.Hello, "/hello/world", ""},
		{"sleep1ms", wasmtest.Sleep, "/", "ms=1"},
	}
	for _, c := range cases {
		m := compile(b, testRuntime(b), c.guest, wasm.ModuleSpec{})
		b.Run(c.name, func(b *testing.B) {
			free, limited := instantiate(b, m), instantiate(b, m)
			req := get(c.path, c.query)
			deadline := time.Now().Add(time.Hour)
			call := func(inst *wasm.Instance, env wasm.Env) time.Duration {
				start := time.Now()
				if _, err := inst.Handle(context.Background(), req, env); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			var without, with time.Duration
			n := 0
			for b.Loop() {
				if n%2 == 0 { // alternate which goes first
					without += call(free, wasm.Env{Deadline: deadline})
					with += call(limited, wasm.Env{Deadline: deadline, CPULimit: time.Second})
				} else {
					with += call(limited, wasm.Env{Deadline: deadline, CPULimit: time.Second})
					without += call(free, wasm.Env{Deadline: deadline})
				}
				n++
			}
			b.ReportMetric(float64(without.Nanoseconds())/float64(n), "nolimit-ns/call")
			b.ReportMetric(float64(with.Nanoseconds())/float64(n), "limit-ns/call")
			b.ReportMetric(float64(with)/float64(without), "ratio")
		})
	}
}
