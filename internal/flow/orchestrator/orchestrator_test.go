package orchestrator_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/flow/orchestrator"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
	"github.com/stratahq/strata/sdk/go/wire"
)

// The whole path with real parts: the SDK's sample guest compiled to Wasm,
// run by wazero through the invoker, orchestrated by the engine on a real
// SQLite file. The guest is both the orchestrator of "greet" and "count"
// and the activity "greeter" they call.
func TestWasmWorkflowsEndToEnd(t *testing.T) {
	ctx := context.Background()
	bin := wasmtest.BuildGuest(t, "../../../sdk/go/flow/testdata/guest")
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })

	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	require.NoError(t, st.BlobPut(ctx, sha, bin))
	cfg := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 128, TimeoutMS: 60_000, MaxConcurrency: 16,
		Workflows: []record.WorkflowConfig{{Name: "count"}, {Name: "greet"}, {Name: "parent"}}}
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project: "p", NewVersions: []store.NewVersionParams{{Function: "greeter", ModuleSHA256: sha, Config: cfg}}, Routes: []record.Route{},
	})
	require.NoError(t, err)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	host := &orchestrator.Host{ProjectOf: func(string) string { return "p" }}
	rt, err := wasm.New(ctx, wasm.Config{CacheDir: wasmtest.SharedCacheDir(), Logger: quiet, Flow: host})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	inv := invoke.New(invoke.Config{Store: st, Runtime: rt, Logger: quiet})
	t.Cleanup(func() { _ = inv.Close(context.Background()) })
	require.NoError(t, inv.Sync(ctx))

	closed := make(chan string, 16)
	e := flow.New(flow.Config{
		Store: st, Invoker: inv, Orchestrator: &orchestrator.Orchestrator{Invoker: inv}, Logger: quiet,
		Workflows: func(name string) (flow.WorkflowRef, bool) {
			if name != "greet" && name != "count" && name != "parent" {
				return flow.WorkflowRef{}, false
			}
			return flow.WorkflowRef{Function: "greeter", Project: "p", Config: record.WorkflowConfig{Name: name}}, true
		},
		ProjectOf: func(string) string { return "p" },
		OnClose:   func(id, status string) { closed <- id },
	})
	host.Engine = e
	e.Run()
	t.Cleanup(e.Close)

	wait := func(id string) *record.FlowExecution {
		t.Helper()
		for {
			select {
			case got := <-closed:
				if got != id {
					continue
				}
				ex, err := e.Get(ctx, "p", id)
				require.NoError(t, err)
				return ex
			case <-time.After(time.Minute):
				t.Fatalf("execution %s did not finish", id)
			}
		}
	}

	_, _, err = e.Start(ctx, flow.StartParams{Workflow: "greet", ID: "g-1", Input: []byte(`["ann","bob","cy"]`)})
	require.NoError(t, err)
	ex := wait("g-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	var out string
	require.NoError(t, json.Unmarshal(ex.Output, &out))
	require.True(t, strings.HasPrefix(out, "hello ann (g-1/1); hello bob (g-1/2); hello cy (g-1/3); "), out)
	// The id the workflow generated is recorded, so it survives replays.
	hist, err := e.History(ctx, "p", "g-1", 0)
	require.NoError(t, err)
	var marker string
	for _, ev := range hist {
		if ev.Type == flow.EvMarker {
			var d struct{ Value string }
			require.NoError(t, json.Unmarshal(ev.Data, &d))
			marker = d.Value
		}
	}
	require.NotEmpty(t, marker)
	require.True(t, strings.HasSuffix(out, marker), "output %q does not end with the recorded id %q", out, marker)

	// Many sequential steps in one pass, and a bad input type.
	_, _, err = e.Start(ctx, flow.StartParams{Workflow: "count", ID: "c-1", Input: []byte(`300`)})
	require.NoError(t, err)
	ex = wait("c-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, `300`, string(ex.Output))
	require.Equal(t, 2+2*300, ex.HistoryLen)

	_, _, err = e.Start(ctx, flow.StartParams{Workflow: "count", ID: "c-bad", Input: []byte(`"three"`)})
	require.NoError(t, err)
	ex = wait("c-bad")
	require.Equal(t, record.FlowFailed, ex.Status)
	require.Contains(t, string(ex.Error), `"BadInput"`)

	// Child workflows, one with an id of its own, and a durable timer.
	_, _, err = e.Start(ctx, flow.StartParams{Workflow: "parent", ID: "p-1", Input: []byte(`4`)})
	require.NoError(t, err)
	ex = wait("p-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, `9`, string(ex.Output))
	for _, id := range []string{"p-1/1/1", "p-1-second"} {
		child, err := e.Get(ctx, "p", id)
		require.NoError(t, err)
		require.Equal(t, record.FlowCompleted, child.Status)
		require.Equal(t, "p-1", child.ParentID)
		require.Equal(t, ex.TraceID, child.TraceID, "a child joins its parent's trace")
	}

	// The parent's pass waited in memory for its timer (10 ms) and its
	// children: that wait is in the orchestrator's duration, not in its
	// billed time.
	require.Eventually(t, func() bool {
		us, err := st.UsageList(ctx, store.UsageListParams{Function: "greeter"})
		require.NoError(t, err)
		for _, u := range us {
			if u.Trigger == "workflow" && time.Duration(u.BilledMS)*time.Millisecond+9*time.Millisecond <= u.Duration {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "no orchestrator pass was billed less than its duration")

	// Starting a workflow from inside a function is not what this guest
	// does; an orchestrator command outside a workflow invocation is
	// refused by the host.
	_, err = host.Flow(ctx, wireSchedule())
	require.ErrorContains(t, err, "only inside a workflow")
}

func wireSchedule() wire.FlowRequest {
	return wire.FlowRequest{Op: wire.FlowOpSchedule, Kind: wire.FlowCall, Name: "greeter"}
}
