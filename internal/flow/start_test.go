package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// startGated holds every start until release is closed, then fails it
// with fail or writes it; it counts the commits that reach the store.
type startGated struct {
	flow.Store
	release chan struct{}
	fail    error
	commits atomic.Int32
}

func (g *startGated) FlowStartBatch(ctx context.Context, ps []store.FlowStartParams, now time.Time) ([]store.FlowStarted, error) {
	<-g.release
	if g.fail != nil {
		return nil, g.fail
	}
	return g.Store.FlowStartBatch(ctx, ps, now)
}

func (g *startGated) FlowCommitBatch(ctx context.Context, cs []store.FlowCommit, now time.Time) []error {
	g.commits.Add(1)
	return g.Store.FlowCommitBatch(ctx, cs, now)
}

// A new execution's first orchestrator pass runs while its start commits,
// but nothing the pass causes (an activity, a commit) happens before the
// start is in the store; a start that fails leaves no trace of the pass.
func TestFirstPassWaitsForItsStart(t *testing.T) {
	for _, fail := range []bool{false, true} {
		name := map[bool]string{false: "start commits", true: "start fails"}[fail]
		t.Run(name, func(t *testing.T) {
			h := newHarnessNoOpen(t)
			g := &startGated{release: make(chan struct{})}
			if fail {
				g.fail = errors.New("disk gone")
			}
			h.wrap = func(st flow.Store) flow.Store { g.Store = st; return g }
			h.open()
			t.Cleanup(h.close)

			reached := make(chan struct{})
			var early atomic.Int32 // activities that ran before their execution was stored
			h.activity("step", func(in json.RawMessage, _ string) (int, string) {
				if _, err := h.st.FlowGet(context.Background(), "gated-1"); err != nil {
					early.Add(1)
				}
				return 200, string(in)
			})
			h.workflow("gated", func(c *tctx, in json.RawMessage) (any, error) {
				select {
				case <-reached:
				default:
					close(reached)
				}
				return c.call("step", 1, nil)
			})

			started := make(chan error, 1)
			go func() {
				_, _, err := h.e.Start(context.Background(), flow.StartParams{Workflow: "gated", ID: "gated-1"})
				started <- err
			}()
			<-reached // the pass runs before the start has committed
			require.Never(t, func() bool { return h.acts.count("step") > 0 || g.commits.Load() > 0 },
				50*time.Millisecond, 5*time.Millisecond, "an activity or a commit before the start was durable")
			close(g.release)
			err := <-started
			if fail {
				require.ErrorContains(t, err, "disk gone")
				_, err := h.st.FlowGet(context.Background(), "gated-1")
				require.ErrorIs(t, err, store.ErrNotFound)
				h.close() // the early run ends without waiting for anything
				require.Zero(t, h.acts.count("step"))
				require.Zero(t, g.commits.Load())
				return
			}
			require.NoError(t, err)
			ex := h.wait("gated-1")
			require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
			require.Equal(t, 1, h.acts.count("step"))
			require.Zero(t, early.Load())
			require.Equal(t, []string{"started", "call_scheduled#1", "call_completed#1", "completed"}, h.history("gated-1"))
		})
	}
}

// A start of an id that exists (a retry, a redelivered message) runs no
// orchestrator code: the run launched with it waits for the start's
// answer, which finds the id taken.
func TestStartOfAnExistingIDRunsNoPass(t *testing.T) {
	h := newHarness(t)
	h.activity("step", echo)
	h.workflow("once", func(c *tctx, in json.RawMessage) (any, error) { return c.call("step", 1, nil) })
	h.start("once", "once-1", "null")
	require.Equal(t, record.FlowCompleted, h.wait("once-1").Status)
	h.o.mu.Lock()
	passes := h.o.passes
	h.o.mu.Unlock()

	_, created, err := h.e.Start(context.Background(), flow.StartParams{Workflow: "once", ID: "once-1"})
	require.NoError(t, err)
	require.False(t, created)
	h.close() // waits for every run of the engine
	require.Equal(t, passes, h.o.passes, "an orchestrator pass for a start that created nothing")
	require.Equal(t, 1, h.acts.count("step"))
}
