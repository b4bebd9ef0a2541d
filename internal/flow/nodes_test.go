package flow_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// Two nodes share one store. Node A starts executions and dies holding
// their leases (its engine stops without giving anything back, as a
// killed process would); node B, which never saw them start, takes them
// over when the leases lapse and completes every one, without running a
// step A had completed again. On SQLite (two handles on one file) and on
// PostgreSQL when STRATA_TEST_POSTGRES is set.
func TestSecondNodeTakesOverACrashedNodesExecutions(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "strata.db")
		takeOver(t, func() store.Store {
			st, err := sqlite.Open(context.Background(), path)
			require.NoError(t, err)
			return st
		})
	})
	t.Run("postgres", func(t *testing.T) {
		url := os.Getenv("STRATA_TEST_POSTGRES")
		if url == "" {
			t.Skip("STRATA_TEST_POSTGRES is not set")
		}
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		schema := "flow_nodes_" + hex.EncodeToString(b)
		t.Cleanup(func() {
			conn, err := pgx.Connect(context.Background(), url)
			if err == nil {
				_, _ = conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`)
				_ = conn.Close(context.Background())
			}
		})
		takeOver(t, func() store.Store {
			st, err := postgres.OpenWithSchema(context.Background(), url, schema)
			require.NoError(t, err)
			return st
		})
	})
}

func takeOver(t *testing.T, open func() store.Store) {
	ctx := context.Background()
	acts := &activities{fns: map[string]func(json.RawMessage, string) (int, string){}, calls: map[string]int{}, throttle: map[string]int{}}
	acts.fns["add"] = func(in json.RawMessage, _ string) (int, string) {
		var n int
		_ = json.Unmarshal(in, &n)
		return 200, fmt.Sprint(n + 1)
	}
	// "hold" does not answer while node A lives: A dies holding the
	// leases of executions whose step is in flight.
	gate := make(chan struct{})
	acts.fns["hold"] = func(in json.RawMessage, _ string) (int, string) {
		<-gate
		return 200, "null"
	}
	o := &orch{wfs: map[string]wf{"w": func(c *tctx, in json.RawMessage) (any, error) {
		out, err := c.call("add", in, nil)
		if err != nil {
			return nil, err
		}
		if _, err := c.call("hold", nil, nil); err != nil {
			return nil, err
		}
		sig, err := c.signal("go", 0)
		if err != nil {
			return nil, err
		}
		return map[string]json.RawMessage{"sum": out, "signal": sig}, nil
	}}}
	refs := func(name string) (flow.WorkflowRef, bool) {
		return flow.WorkflowRef{Function: "w-fn", Project: "p", Config: record.WorkflowConfig{Name: name}}, name == "w"
	}
	node := func(st store.Store, name string) *flow.Engine {
		e := flow.New(flow.Config{Store: st, Invoker: acts, Orchestrator: o, Workflows: refs, Node: name, ProjectOf: func(string) string { return "p" },
			LeaseFor: 2 * time.Second, Hold: 50 * time.Millisecond, Poll: 20 * time.Millisecond, MaxRuns: 8})
		e.Run()
		return e
	}
	stA, stB := open(), open()
	t.Cleanup(func() { _ = stA.Close(); _ = stB.Close() })
	a := node(stA, "a")
	const n = 12
	for i := range n {
		_, _, err := a.Start(ctx, flow.StartParams{Workflow: "w", ID: fmt.Sprintf("x-%d", i), Input: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
	}
	// Wait until A's eight run slots hold executions whose first step is
	// recorded and whose second is in flight (MaxRuns 8 < 12: four more
	// wait, leased to A, for a slot that never frees).
	require.Eventually(t, func() bool {
		recorded := 0
		for i := range n {
			evs, err := stA.FlowHistory(ctx, fmt.Sprintf("x-%d", i), 1, 0, 0)
			if err == nil && len(evs) >= 4 {
				recorded++
			}
		}
		return recorded == 8 && acts.count("hold") == 8
	}, 30*time.Second, 10*time.Millisecond)
	// A dies holding every lease. Its activities are stopped, but the
	// fake's "hold" only returns when the gate opens.
	go a.Close()
	time.Sleep(100 * time.Millisecond)
	adds := acts.count("add")
	require.Equal(t, 8, adds)
	close(gate)

	b := node(stB, "b")
	t.Cleanup(b.Close)
	for i := range n {
		require.NoError(t, b.Signal(ctx, "p", fmt.Sprintf("x-%d", i), "go", []byte(fmt.Sprintf(`"s%d"`, i))))
	}
	for i := range n {
		id := fmt.Sprintf("x-%d", i)
		var ex *record.FlowExecution
		require.Eventually(t, func() bool {
			var err error
			ex, err = b.Get(ctx, "p", id)
			require.NoError(t, err)
			return ex.Status != record.FlowRunning
		}, 60*time.Second, 20*time.Millisecond, "execution %s was not taken over", id)
		require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
		require.JSONEq(t, fmt.Sprintf(`{"sum":%d,"signal":"s%d"}`, i+1, i), string(ex.Output))
	}
	require.Equal(t, n, acts.count("add"), "a step completed on the dead node ran again")
	require.GreaterOrEqual(t, acts.count("hold"), n+8, "the steps in flight at the crash ran again on B")
}
