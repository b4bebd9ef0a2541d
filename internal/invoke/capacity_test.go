package invoke

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// capacityBundle is an invoker over a real SQLite store and runtime whose
// guests' log lines of one function block until released: a test holds
// invocations of that function busy without sleeping.
type capacityBundle struct {
	st   store.Store
	inv  *Invoker
	logs *bytes.Buffer

	mu      sync.Mutex
	held    string        // function whose invocations block on their first log line
	entered chan struct{} // one token per held invocation that reached its log line
	release chan struct{} // closed to let them finish
}

func setupCapacity(t *testing.T, cfg Config) *capacityBundle {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir()})
	require.NoError(t, err)
	b := &capacityBundle{st: st, logs: new(bytes.Buffer), entered: make(chan struct{}, 100), release: make(chan struct{})}
	cfg.Store, cfg.Runtime = st, rt
	cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: b.logs}, nil))
	cfg.LogTap = func(l record.LogLine) {
		b.mu.Lock()
		held := b.held
		b.mu.Unlock()
		if l.Function == held && l.Stream == "stdout" {
			b.entered <- struct{}{}
			<-b.release
		}
	}
	b.inv = New(cfg)
	t.Cleanup(func() {
		b.mu.Lock()
		b.held = ""
		b.mu.Unlock()
		select {
		case <-b.release:
		default:
			close(b.release)
		}
		_ = b.inv.Close(context.Background())
		_ = rt.Close(context.Background())
		_ = st.Close()
	})
	return b
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (b *capacityBundle) deploy(t *testing.T, project, fn string, c record.FunctionConfig) {
	t.Helper()
	ctx := context.Background()
	bin := wasmtest.Guest(t, wasmtest.Hello)
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	require.NoError(t, b.st.BlobPut(ctx, sha, bin))
	_, err := b.st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: project, NewVersions: []store.NewVersionParams{{Function: fn, ModuleSHA256: sha, Config: c}}, Routes: []record.Route{},
	})
	require.NoError(t, err)
	require.NoError(t, b.inv.Sync(ctx))
}

func call(fn string) Request {
	return Request{Function: fn, Trigger: "http", Wire: &wire.Request{Method: "GET", Path: "/"}}
}

// Found 6: one project's function with a max_concurrency above the node
// cap took every slot of the node, and another project's routes answered
// 429 for as long. Now a project holds at most its share (here 2 of 4):
// project A's flood is refused beyond it, project B still runs.
func TestProjectShareKeepsOtherProjectsServed(t *testing.T) {
	b := setupCapacity(t, Config{MaxConcurrency: 4, ProjectConcurrency: 2})
	greedy := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 30000, MaxConcurrency: 200}
	b.deploy(t, "tenant-a", "flood", greedy)
	b.deploy(t, "tenant-b", "victim", record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 30000, MaxConcurrency: 10})
	b.mu.Lock()
	b.held = "flood"
	b.mu.Unlock()

	// A floods: 2 get in and stay busy, every other call is refused at
	// once (before, all 4 node slots went to A).
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.inv.Invoke(ctx, call("flood"))
			errs <- err
		}()
	}
	<-b.entered
	<-b.entered
	refused := 0
	for range 8 {
		err := <-errs
		require.ErrorIs(t, err, pool.ErrAtCapacity)
		require.ErrorContains(t, err, "project tenant-a: its share of this node, 2 invocations at once, is in use")
		refused++
	}
	require.Equal(t, 8, refused)

	// B is served while A is saturated: 2 slots of the node are still free.
	for range 3 {
		res, err := b.inv.Invoke(ctx, call("victim"))
		require.NoError(t, err)
		require.Equal(t, 200, res.Response.Status)
	}
	require.Equal(t, 2, b.inv.PoolStats()["flood"].Busy, "A's calls were still in flight while B ran")

	close(b.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// The greedy max_concurrency was clamped to the project's share, with
	// a warning naming the function.
	require.Equal(t, 2, b.inv.PoolStats()["flood"].Max)
	require.Contains(t, b.logs.String(), "function max_concurrency above this node's per-project cap; clamped")
	require.Contains(t, b.logs.String(), "function=flood")
}

// With the default share (80% of the node cap) a single project still
// gets most of the node, and a fifth stays for the others.
func TestDefaultProjectConcurrency(t *testing.T) {
	for _, tc := range []struct{ node, want int }{{0, 0}, {1, 1}, {2, 1}, {4, 3}, {10, 8}, {1000, 800}} {
		require.Equal(t, tc.want, DefaultProjectConcurrency(tc.node), "node cap %d", tc.node)
	}
	iv := New(Config{MaxConcurrency: 10})
	require.Equal(t, 8, iv.cfg.ProjectConcurrency)
	iv = New(Config{MaxConcurrency: 10, ProjectConcurrency: 50})
	require.Equal(t, 10, iv.cfg.ProjectConcurrency, "a share above the node cap is the node cap")
	iv = New(Config{MaxConcurrency: 10, ProjectConcurrency: -1})
	require.Equal(t, -1, iv.cfg.ProjectConcurrency, "negative: no per-project cap")
}

// The node's memory budget binds the invoker's pools together: project A
// holding two 64 MB instances busy in a 160 MB budget leaves no room for
// a third instance of any function; the refusal is a 429-class error that
// names the budget, and the node keeps serving once A's calls end.
func TestMemoryBudgetAcrossFunctions(t *testing.T) {
	b := setupCapacity(t, Config{MemoryBudgetMB: 160, ProjectConcurrency: -1})
	c := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 30000, MaxConcurrency: 10}
	b.deploy(t, "tenant-a", "bomb", c)
	b.deploy(t, "tenant-b", "victim", c)
	b.mu.Lock()
	b.held = "bomb"
	b.mu.Unlock()

	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.inv.Invoke(ctx, call("bomb"))
			errs <- err
		}()
	}
	<-b.entered
	<-b.entered
	require.Equal(t, pool.BudgetStats{LimitMB: 160, ProjectMB: 160, UsedMB: 128}, b.inv.MemoryBudget())
	_, err := b.inv.Invoke(ctx, call("victim"))
	require.ErrorIs(t, err, pool.ErrMemoryBudget)
	require.ErrorIs(t, err, pool.ErrAtCapacity)

	close(b.release)
	wg.Wait()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	res, err := b.inv.Invoke(ctx, call("victim"))
	require.NoError(t, err)
	require.Equal(t, 200, res.Response.Status)
}
