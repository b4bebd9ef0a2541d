package invoke

import (
	"context"
	"testing"

	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// TestProvisionedWarmBeforeActive checks a version with provisioned
// instances is pre-warmed before traffic moves to it: the first requests
// after the deploy, and after a redeploy, start warm.
func TestProvisionedWarmBeforeActive(t *testing.T) {
	b := setup(t)
	wasm := wasmtest.Guest(t, wasmtest.Hello)
	cfg := helloCfg
	cfg.MaxConcurrency, cfg.Provisioned = 4, 3
	b.deploy(t, "hello", wasm, cfg)
	s := b.inv.PoolStats()["hello"]
	if s.Idle != 3 || s.Provisioned != 3 || s.Prewarmed != 3 {
		t.Fatalf("after deploy: %+v, want 3 provisioned idle instances", s)
	}
	ctx := context.Background()
	for range 2 {
		r, err := b.inv.Invoke(ctx, req("/warm"))
		if err != nil {
			t.Fatal(err)
		}
		if r.Cold {
			t.Fatal("a request to a provisioned version started cold")
		}
	}

	// A new version (new env) is warm before it becomes active.
	cfg.Env = map[string]string{"GREETING": "v2"}
	if v := b.deploy(t, "hello", wasm, cfg); v != 2 {
		t.Fatalf("version %d, want 2", v)
	}
	if s := b.inv.PoolStats()["hello"]; s.Idle != 3 || s.ColdStarts != 0 {
		t.Fatalf("after redeploy: %+v", s)
	}
	r, err := b.inv.Invoke(ctx, req("/v2"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Cold || r.Version != 2 {
		t.Fatalf("first request to v2: cold %v version %d", r.Cold, r.Version)
	}
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{"fn": "fn", "fn@3": "fn", "a@b@12": "a@b", "x@y": "x@y"} {
		if got := functionName(in); got != want {
			t.Errorf("functionName(%q) = %q, want %q", in, got, want)
		}
	}
}
