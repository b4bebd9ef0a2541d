package invoke_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkInvoke measures one warm invocation of the hello guest through
// the whole pipeline: admission, the version lookup, deadline, host
// environment, pool, guest logs and the usage record (queued to the
// meter). The pool's BenchmarkWarmInvoke is the same call without the
// pipeline; the difference is what the pipeline costs.
//
// The sub-benchmarks run it without and with the Prometheus observer
// (metrics=on), so the cost of the metrics is their difference in one run.
func BenchmarkInvoke(b *testing.B) {
	b.Run("metrics=off", func(b *testing.B) { benchInvoke(b, nil) })
	b.Run("metrics=on", func(b *testing.B) {
		benchInvoke(b, metrics.NewInvocations(prometheus.NewRegistry()))
	})
}

func benchInvoke(b *testing.B, obs invoke.Observer) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "strata.db"))
	if err != nil {
		b.Fatal(err)
	}
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir()})
	if err != nil {
		b.Fatal(err)
	}
	icfg := invoke.Config{Store: st, MaxConcurrency: 64, Observer: obs}
	reg := registry.New(registry.Config{Store: st, Runtime: rt, Pools: icfg.PoolLimits()})
	icfg.Registry = reg
	inv := invoke.New(icfg)
	b.Cleanup(func() {
		_ = reg.Close(context.Background())
		_ = inv.Close(context.Background())
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	bin := wasmtest.Guest(b, wasmtest.Hello)
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	if err := st.BlobPut(ctx, sha, bin); err != nil {
		b.Fatal(err)
	}
	cfg := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 1}
	if _, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p", NewVersions: []store.NewVersionParams{{Function: "hello", ModuleSHA256: sha, Config: cfg}}, Routes: []record.Route{},
	}); err != nil {
		b.Fatal(err)
	}
	if err := reg.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	call := func() {
		w := &wire.Request{Method: "GET", Path: "/hello/world", Params: []wire.Param{{Name: "name", Value: "world"}},
			Headers: []wire.Header{{Name: "Accept", Values: []string{"*/*"}}}}
		if _, err := inv.Invoke(ctx, invoke.Request{Function: "hello", Trigger: "invoke", Wire: w}); err != nil {
			b.Fatal(err)
		}
	}
	call() // the cold start
	b.ReportAllocs()
	for b.Loop() {
		call()
	}
}
