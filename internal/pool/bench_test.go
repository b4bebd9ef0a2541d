package pool_test

import (
	"context"
	"testing"

	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkWarmInvoke measures one warm reactor invocation of the hello
// guest through the pool: encode, call, handler, decode. Target: ≤ 20 µs.
func BenchmarkWarmInvoke(b *testing.B) {
	p := newPool(b, module(b, wasmtest.Hello), pool.Config{MaxInstances: 1})
	req := &wire.Request{Method: "GET", Path: "/hello/world", Params: []wire.Param{{Name: "name", Value: "world"}},
		Headers: []wire.Header{{Name: "Accept", Values: []string{"*/*"}}}}
	ctx := context.Background()
	if _, _, err := p.Invoke(ctx, req, wasm.Output{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Invoke(ctx, req, wasm.Output{}); err != nil {
			b.Fatal(err)
		}
	}
}
