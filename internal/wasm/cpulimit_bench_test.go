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
// a guest sleeping 1 ms
// (a waiting host call: the meter pauses and the thread is unlocked), each
// with no limit and with one. Compare each pair's ns/op.
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
		for _, limit := range []time.Duration{0, time.Second} {
			name := c.name + "/nolimit"
			if limit > 0 {
				name = c.name + "/limit"
			}
			b.Run(name, func(b *testing.B) {
				inst := instantiate(b, m)
				req := get(c.path, c.query)
				env := wasm.Env{CPULimit: limit, Deadline: time.Now().Add(time.Hour)}
				for b.Loop() {
					if _, err := inst.Handle(context.Background(), req, env); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
