package registry_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// TestProcessFunctionPooled: a process function is prepared (its init
// proven), activated with its provisioned process started, served by its
// pool one invocation per process, and a process that hangs is killed at
// the deadline and replaced, within max_concurrency, as a Wasm instance
// would be.
func TestProcessFunctionPooled(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	procs, err := process.New(process.Config{Dir: t.TempDir()})
	require.NoError(t, err)
	clk := clock.NewFake(time.Now())
	reg := registry.New(registry.Config{Store: st, Process: procs, Clock: clk, IdleTimeout: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		_ = reg.Close(context.Background())
		_ = procs.Close()
		_ = st.Close()
	})

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.js"), []byte(`
const id = Math.random(); // this process's, kept while it lives
exports.handler = async (event) => event.hang ? new Promise(() => setInterval(() => {}, 1000)) : "process " + id;`), 0o644))
	code, err := process.Pack(dir)
	require.NoError(t, err)
	c := record.FunctionConfig{Kind: record.KindProcess, Runtime: record.RuntimeNode, Handler: "index.handler", Events: record.EventsLambda,
		MemoryMB: 128, TimeoutMS: 5000, MaxConcurrency: 1, Provisioned: 1}
	p, err := reg.Prepare(ctx, "fn@1", code, sha(code), c)
	require.NoError(t, err)
	require.Equal(t, record.KindProcess, p.Kind)
	require.Positive(t, p.Init, "a trial process was started")

	bad := record.FunctionConfig{Kind: record.KindProcess, Runtime: record.RuntimeNode, Handler: "index.nope", Events: record.EventsLambda, MemoryMB: 128}
	_, err = reg.Prepare(ctx, "fn@2", code, sha(code), bad)
	require.ErrorIs(t, err, wasm.ErrInvalidModule, "an init error refuses the deploy")

	require.NoError(t, st.BlobPut(ctx, sha(code), code))
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p", NewVersions: []store.NewVersionParams{{Function: "fn", ModuleSHA256: sha(code), Config: c}}, Routes: []record.Route{},
	})
	require.NoError(t, err)
	require.NoError(t, reg.Sync(ctx))
	d, _, _ := reg.Lookup("fn")
	require.NotNil(t, d)
	require.Equal(t, uint64(1), d.Pool.Stats().Prewarmed, "the provisioned process started before traffic")

	call := func(event string, timeout time.Duration) (*wire.Response, bool, error) {
		return d.Pool.Invoke(ctx, &wire.Request{Method: "POST", Path: "/", Body: []byte(event)}, wasm.Env{Deadline: time.Now().Add(timeout)})
	}
	resp, cold, err := call(`{}`, 5*time.Second)
	require.NoError(t, err)
	require.False(t, cold, "served by the provisioned process")
	first := string(resp.Body)

	hung := make(chan error, 1)
	go func() { _, _, err := call(`{"hang":true}`, 500*time.Millisecond); hung <- err }()
	require.Eventually(t, func() bool { return d.Pool.Stats().Busy == 1 }, 5*time.Second, time.Millisecond)
	_, _, err = call(`{}`, time.Second)
	require.ErrorIs(t, err, pool.ErrAtCapacity, "max_concurrency 1: one process, busy")
	require.ErrorIs(t, <-hung, wasm.ErrTimeout)
	require.Equal(t, uint64(1), d.Pool.Stats().Discarded, "the hung process was killed and dropped")

	resp, _, err = call(`{}`, 5*time.Second)
	require.NoError(t, err)
	require.NotEqual(t, first, string(resp.Body), "a new process serves")

	// Idle reclaim: without provisioned processes, an idle process is
	// closed after the idle timeout (scale to zero), and the next
	// invocation starts a new one.
	c.Provisioned = 0
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p", NewVersions: []store.NewVersionParams{{Function: "fn", ModuleSHA256: sha(code), Config: c}}, Routes: []record.Route{},
	})
	require.NoError(t, err)
	require.NoError(t, reg.Sync(ctx))
	d, _, _ = reg.Lookup("fn")
	resp, cold, err = call(`{}`, 5*time.Second)
	require.NoError(t, err)
	require.True(t, cold)
	warm := string(resp.Body)
	clk.Advance(2 * time.Minute)
	require.Equal(t, 1, d.Pool.Reap(), "the idle process is reclaimed")
	resp, cold, err = call(`{}`, 5*time.Second)
	require.NoError(t, err)
	require.True(t, cold, "scale to zero: the next invocation starts a process")
	require.NotEqual(t, warm, string(resp.Body))
}
