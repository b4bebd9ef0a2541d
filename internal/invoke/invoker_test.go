package invoke

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

type bundle struct {
	st  store.Store
	rt  *wasm.Runtime
	inv *Invoker
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir()})
	if err != nil {
		t.Fatal(err)
	}
	inv := New(Config{Store: st, Runtime: rt})
	t.Cleanup(func() {
		_ = inv.Close(context.Background())
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	return &bundle{st, rt, inv}
}

// deploy stores a module and a new active version of fn, then syncs.
func (b *bundle) deploy(t *testing.T, fn string, bin []byte, c record.FunctionConfig) int {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	if err := b.st.BlobPut(ctx, sha, bin); err != nil {
		t.Fatal(err)
	}
	res, err := b.st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p", NewVersions: []store.NewVersionParams{{Function: fn, ModuleSHA256: sha, Config: c}}, Routes: []record.Route{},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.inv.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return res.Versions[0].Number
}

func req(path string) Request {
	return Request{Function: "hello", Trigger: "invoke", Wire: &wire.Request{Method: "GET", Path: path}}
}

var helloCfg = record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 2, Env: map[string]string{"GREETING": "v1"}}

func TestInvokeMetersAndLogs(t *testing.T) {
	b := setup(t)
	b.deploy(t, "hello", wasmtest.Guest(t, wasmtest.Hello), helloCfg)
	ctx := context.Background()

	r1, err := b.inv.Invoke(ctx, req("/one"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.inv.Invoke(ctx, req("/two"))
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Cold || r2.Cold {
		t.Fatalf("cold flags: first %v second %v, want true then false", r1.Cold, r2.Cold)
	}
	if r1.InvocationID == r2.InvocationID || r1.Version != 1 {
		t.Fatalf("results %+v %+v", r1, r2)
	}
	body := string(r1.Response.Body)
	if !strings.Contains(body, "invocation="+r1.InvocationID) || !strings.Contains(body, "traceparent="+r1.Trace.Header()) {
		t.Fatalf("the guest did not see its invocation id and trace:\n%s", body)
	}

	// Closing flushes the meter.
	if err := b.inv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	us, err := b.st.UsageList(ctx, store.UsageListParams{Function: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 2 {
		t.Fatalf("%d usage records, want 2", len(us))
	}
	for i, u := range us {
		if u.Outcome != record.OutcomeOK || u.BilledMS < 1 || u.MemoryMB != 64 || u.Status != 200 || u.TraceID == "" || u.Trigger != "invoke" {
			t.Fatalf("usage %d: %+v", i, u)
		}
	}
	if !us[0].Cold || us[1].Cold {
		t.Fatalf("usage cold flags: %v %v", us[0].Cold, us[1].Cold)
	}
	logs, err := b.st.LogList(ctx, store.LogListParams{InvocationID: r2.InvocationID})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) == 0 || !strings.Contains(logs[0].Line, "hello guest handling GET /two") || logs[0].Stream != "stdout" || logs[0].TraceID != r2.Trace.TraceID {
		t.Fatalf("logs of the second invocation: %+v", logs)
	}
}

func TestSyncSwapsVersions(t *testing.T) {
	b := setup(t)
	bin := wasmtest.Guest(t, wasmtest.Hello)
	b.deploy(t, "hello", bin, helloCfg)
	v2 := helloCfg
	v2.Env = map[string]string{"GREETING": "v2"}
	if n := b.deploy(t, "hello", bin, v2); n != 2 {
		t.Fatalf("second version number %d", n)
	}
	if b.inv.Active("hello") != 2 {
		t.Fatalf("active %d", b.inv.Active("hello"))
	}
	r, err := b.inv.Invoke(context.Background(), req("/"))
	if err != nil || !strings.Contains(string(r.Response.Body), "env.GREETING=v2") || r.Version != 2 {
		t.Fatalf("after swap: %v %s", err, r.Response.Body)
	}
	// Rollback through the store, then Sync.
	if err := b.st.FunctionSetActiveVersion(context.Background(), "hello", 1); err != nil {
		t.Fatal(err)
	}
	if err := b.inv.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err = b.inv.Invoke(context.Background(), req("/"))
	if err != nil || !strings.Contains(string(r.Response.Body), "env.GREETING=v1") {
		t.Fatalf("after rollback: %v %s", err, r.Response.Body)
	}
}

// TestSwapWhileBusy swaps versions while invocations are in flight: every
// one of them completes, on the old or the new version.
func TestSwapWhileBusy(t *testing.T) {
	b := setup(t)
	bin := wasmtest.Guest(t, wasmtest.Sleep)
	c := helloCfg
	c.MaxConcurrency = 16
	b.deploy(t, "hello", bin, c)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := b.inv.Invoke(context.Background(), Request{Function: "hello", Wire: &wire.Request{Method: "GET", Path: "/", RawQuery: "ms=30"}})
				if err == nil || !errors.Is(err, pool.ErrAtCapacity) {
					errs <- err
					return
				}
				time.Sleep(5 * time.Millisecond) // throttled: retry, as a client would
			}
		}()
	}
	c2 := c
	c2.Env = map[string]string{"V": "2"}
	b.deploy(t, "hello", bin, c2)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("an invocation failed during the swap: %v", err)
		}
	}
}

func TestInvokeErrors(t *testing.T) {
	b := setup(t)
	if _, err := b.inv.Invoke(context.Background(), req("/")); !errors.Is(err, ErrNoFunction) {
		t.Fatalf("unknown function: %v", err)
	}
	c := helloCfg
	c.TimeoutMS = 200
	b.deploy(t, "hello", wasmtest.Guest(t, wasmtest.Loop), c)
	res, err := b.inv.Invoke(context.Background(), req("/"))
	if !errors.Is(err, wasm.ErrTimeout) || res.InvocationID == "" {
		t.Fatalf("loop: %v", err)
	}
	if err := b.inv.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	us, _ := b.st.UsageList(context.Background(), store.UsageListParams{Function: "hello"})
	if len(us) != 1 || us[0].Outcome != record.OutcomeTimeout || !strings.Contains(us[0].Error, "timed out") {
		t.Fatalf("usage of the timeout: %+v", us)
	}
	logs, _ := b.st.LogList(context.Background(), store.LogListParams{InvocationID: res.InvocationID})
	var platform bool
	for _, l := range logs {
		platform = platform || (l.Stream == "platform" && strings.Contains(l.Line, "timed out"))
	}
	if !platform {
		t.Fatalf("no platform log line for the timeout: %+v", logs)
	}
}

// TestPlatformConcurrencyLimit: with a platform-wide cap of 1, a second
// invocation while one runs is refused at once, whatever the function's own
// limit.
func TestPlatformConcurrencyLimit(t *testing.T) {
	b := setup(t)
	b.inv.cfg.MaxConcurrency = 1
	c := helloCfg
	c.MaxConcurrency = 8
	b.deploy(t, "hello", wasmtest.Guest(t, wasmtest.Sleep), c)
	done := make(chan error, 1)
	go func() {
		_, err := b.inv.Invoke(context.Background(), Request{Function: "hello", Wire: &wire.Request{Method: "GET", Path: "/", RawQuery: "ms=500"}})
		done <- err
	}()
	var err error
	for i := 0; i < 400; i++ {
		time.Sleep(5 * time.Millisecond)
		if _, err = b.inv.Invoke(context.Background(), Request{Function: "hello", Wire: &wire.Request{Method: "GET", Path: "/", RawQuery: "ms=1"}}); err != nil {
			break
		}
	}
	if !errors.Is(err, pool.ErrAtCapacity) || !strings.Contains(err.Error(), "platform concurrency limit") {
		t.Fatalf("second invocation under a platform cap of 1: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// With the first finished, the next one runs.
	if _, err := b.inv.Invoke(context.Background(), Request{Function: "hello", Wire: &wire.Request{Method: "GET", Path: "/", RawQuery: "ms=1"}}); err != nil {
		t.Fatal(err)
	}
}
