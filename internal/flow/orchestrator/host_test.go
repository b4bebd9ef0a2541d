package orchestrator_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/flow/orchestrator"
	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/sdk/go/wire"
)

// waitForever orchestrates executions that wait for ever.
type waitForever struct{}

func (waitForever) Orchestrate(context.Context, *flow.Run) (flow.Outcome, error) {
	return flow.Outcome{Suspended: true}, nil
}

// noInvoker runs nothing: no activity is called here.
type noInvoker struct{}

func (noInvoker) Invoke(context.Context, invoke.Request) (*invoke.Result, error) {
	return nil, invoke.ErrNoFunction
}

// Issue 9, Found 2, from a guest's host calls: flow.Signal to another
// project's execution completed it with the attacker's value, and
// flow.Start with its id reported success. Both are refused, naming only
// the id; the owner's signal still arrives.
func TestHostCallsStayInTheCallersProject(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	projects := map[string]string{"thief-fn": "thief", "vault": "victim"}
	refs := map[string]flow.WorkflowRef{
		"steal": {Function: "thief-fn", Project: "thief"},
		"hold":  {Function: "vault", Project: "victim"},
	}
	e := flow.New(flow.Config{
		Store: st, Invoker: noInvoker{}, Orchestrator: waitForever{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workflows: func(name string) (flow.WorkflowRef, bool) { r, ok := refs[name]; return r, ok },
		ProjectOf: func(fn string) string { return projects[fn] },
	})
	t.Cleanup(e.Close)
	as := func(fn string) *host.Call { return &host.Call{Function: fn} }
	host := &orchestrator.Host{Engine: e, ProjectOf: func(fn string) string { return projects[fn] }}
	resp, err := host.Flow(ctx, as("vault"), wire.FlowRequest{Op: wire.FlowOpStart, Workflow: "hold", ID: "v-1"})
	require.NoError(t, err)
	require.Equal(t, "v-1", resp.ID)

	_, err = host.Flow(ctx, as("thief-fn"), wire.FlowRequest{Op: wire.FlowOpSignal, ID: "v-1", Name: "go", Input: []byte(`"stolen"`)})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.EqualError(t, err, `execution "v-1" not found in project thief`)

	resp, err = host.Flow(ctx, as("thief-fn"), wire.FlowRequest{Op: wire.FlowOpStart, Workflow: "steal", ID: "v-1"})
	require.ErrorIs(t, err, flow.ErrIDTaken, "flow.Start with another project's id answered %+v", resp)
	require.NotContains(t, err.Error(), "hold")
	require.NotContains(t, err.Error(), "victim")

	// A function with no project on this node reaches nothing.
	_, err = host.Flow(ctx, as("stranger"), wire.FlowRequest{Op: wire.FlowOpSignal, ID: "v-1", Name: "go"})
	require.ErrorContains(t, err, "function stranger has no project on this node yet")

	inbox, err := st.FlowInboxList(ctx, "v-1")
	require.NoError(t, err)
	require.Empty(t, inbox, "a foreign signal reached the victim's inbox")
	_, err = host.Flow(ctx, as("vault"), wire.FlowRequest{Op: wire.FlowOpSignal, ID: "v-1", Name: "go", Input: []byte(`"owner"`)})
	require.NoError(t, err)
	inbox, err = st.FlowInboxList(ctx, "v-1")
	require.NoError(t, err)
	require.Len(t, inbox, 1)
	require.JSONEq(t, `"owner"`, string(inbox[0].Data))
}
