package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Projects are a security boundary (issue 9, Found 2): an execution of
// project "p" (the harness's default, the attacker here) reaches nothing
// of project "victim" — not its functions as activities, not its
// executions by id — and learns nothing of them from its errors.

// victim deploys project victim: a workflow that waits for signal "go"
// and returns its value, and a function "vault" that answers its secret.
func victim(h *harness) {
	h.refs["hold"] = flow.WorkflowRef{Function: "hold-fn", Project: "victim", Config: record.WorkflowConfig{Name: "hold"}}
	h.projects.Store("hold-fn", "victim")
	h.o.set("hold", func(c *tctx, _ json.RawMessage) (any, error) {
		return c.signal("go", 0)
	})
	h.projects.Store("vault", "victim")
	h.activity("vault", func(json.RawMessage, string) (int, string) { return 200, `"victim secret"` })
}

// An activity call to another project's function is answered as one to a
// function that does not exist, and the function never runs.
func TestActivityOfAnotherProjectIsNotFound(t *testing.T) {
	h := newHarness(t)
	victim(h)
	addDouble(h)
	once := &wire.FlowRetry{MaxAttempts: 1}
	h.workflow("thief", func(c *tctx, in json.RawMessage) (any, error) {
		var fn string
		_ = json.Unmarshal(in, &fn)
		return c.call(fn, 1, once)
	})
	for _, fn := range []string{"vault", "nowhere"} {
		ex := h.start("thief", "thief-"+fn, `"`+fn+`"`)
		done := h.wait(ex.ID)
		require.Equal(t, record.FlowFailed, done.Status, string(done.Output))
		var fe wire.FlowError
		require.NoError(t, json.Unmarshal(done.Error, &fe))
		require.Equal(t, wire.FlowErrFunction, fe.Type)
		require.Equal(t, "function "+fn+" not found in project p (is it deployed?)", fe.Message)
	}
	require.Zero(t, h.acts.count("vault"), "another project's function ran as an activity")

	// The project's own function still runs.
	ex := h.start("thief", "thief-add", `"add"`)
	done := h.wait(ex.ID)
	require.Equal(t, record.FlowCompleted, done.Status, string(done.Error))
	require.JSONEq(t, "2", string(done.Output))
}

// Signal, cancel, terminate, restart, get and history reach only the
// caller's project's executions; another project's id is answered as an
// unknown one, word for word. The owner's signal still completes it.
func TestExecutionOfAnotherProjectIsNotFound(t *testing.T) {
	h := newHarness(t)
	victim(h)
	ctx := context.Background()
	v := h.start("hold", "v-1", "null")
	require.Eventually(t, func() bool { return len(h.history(v.ID)) >= 2 }, 10*time.Second, 5*time.Millisecond, "the victim never waited for its signal")

	same := func(t *testing.T, foreign, unknown error) {
		t.Helper()
		require.ErrorIs(t, foreign, store.ErrNotFound)
		require.ErrorIs(t, unknown, store.ErrNotFound)
		require.Equal(t, strings.ReplaceAll(unknown.Error(), "nope", "v-1"), foreign.Error())
		require.Equal(t, `execution "v-1" not found in project p`, foreign.Error())
	}
	for _, tc := range []struct {
		name string
		op   func(id string) error
	}{
		{"signal", func(id string) error { return h.e.Signal(ctx, "p", id, "go", []byte(`"stolen"`)) }},
		{"cancel", func(id string) error { return h.e.Cancel(ctx, "p", id, "mine now") }},
		{"terminate", func(id string) error { return h.e.Terminate(ctx, "p", id, "mine now") }},
		{"restart", func(id string) error { _, err := h.e.Restart(ctx, "p", id, false); return err }},
		{"get", func(id string) error { _, err := h.e.Get(ctx, "p", id); return err }},
		{"history", func(id string) error { _, err := h.e.History(ctx, "p", id, 0); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) { same(t, tc.op("v-1"), tc.op("nope")) })
	}

	// Untouched: still running, its inbox empty; its own project's signal
	// completes it with the owner's value.
	ex, err := h.e.Get(ctx, "victim", "v-1")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status)
	inbox, err := h.st.FlowInboxList(ctx, "v-1")
	require.NoError(t, err)
	require.Empty(t, inbox, "a foreign signal or cancel reached the victim's inbox")
	require.NoError(t, h.e.Signal(ctx, "victim", "v-1", "go", []byte(`"owner"`)))
	done := h.wait("v-1")
	require.Equal(t, record.FlowCompleted, done.Status, string(done.Error))
	require.JSONEq(t, `"owner"`, string(done.Output))
}

// Starting with an id another execution holds — another project's, or the
// same project's of another workflow — is refused with a conflict that
// names only the id; the same workflow in the same project is the
// idempotent re-start it always was.
func TestStartWithATakenIDIsRefused(t *testing.T) {
	h := newHarness(t)
	victim(h)
	addDouble(h)
	h.workflow("sum", threeSteps)
	h.workflow("total", threeSteps)
	ctx := context.Background()
	h.start("hold", "v-1", "null")
	h.start("sum", "c-1", "1")
	h.wait("c-1")

	for _, tc := range []struct{ name, workflow, id string }{
		{"another project's execution", "sum", "v-1"},
		{"same project, another workflow", "total", "c-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ex, created, err := h.e.Start(ctx, flow.StartParams{Project: "p", Workflow: tc.workflow, ID: tc.id, Input: []byte("1")})
			require.ErrorIs(t, err, flow.ErrIDTaken)
			require.ErrorIs(t, err, store.ErrConflict)
			require.Nil(t, ex)
			require.False(t, created)
			msg := err.Error()
			require.Equal(t, `execution id taken: "`+tc.id+`" is in use by another execution; start with another id (or none for a new one)`, msg)
			for _, leak := range []string{"hold", "victim", "running", "completed", "sum", "total"} {
				require.NotContains(t, msg, leak)
			}
		})
	}

	again, created, err := h.e.Start(ctx, flow.StartParams{Project: "p", Workflow: "sum", ID: "c-1", Input: []byte("5")})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, record.FlowCompleted, again.Status)

	// The victim's execution is as it was.
	ex, err := h.e.Get(ctx, "victim", "v-1")
	require.NoError(t, err)
	require.Equal(t, "hold", ex.Workflow)
	require.Equal(t, record.FlowRunning, ex.Status)
}

// A child workflow is one of the parent's project, under an id nobody
// holds; the refusals say nothing about another project's executions.
func TestChildStaysInItsProject(t *testing.T) {
	h := newHarness(t)
	victim(h)
	addDouble(h)
	h.workflow("calc", threeSteps)
	h.workflow("parent", func(c *tctx, in json.RawMessage) (any, error) {
		var out []string
		for _, req := range []wire.FlowRequest{
			{Kind: wire.FlowChild, Name: "hold"},                                // another project's workflow
			{Kind: wire.FlowChild, Name: "calc", ID: "v-1", Input: []byte(`1`)}, // another project's id
		} {
			resp := c.schedule(req)
			if resp.Error == nil {
				return nil, errors.New("child " + req.Name + " " + req.ID + " was accepted")
			}
			out = append(out, resp.Error.Message)
		}
		return out, nil
	})
	h.start("hold", "v-1", "null")
	h.start("parent", "parent-1", "null")
	done := h.wait("parent-1")
	require.Equal(t, record.FlowCompleted, done.Status, string(done.Error))
	var msgs []string
	require.NoError(t, json.Unmarshal(done.Output, &msgs))
	require.Equal(t, []string{
		`child workflow "hold": no active function of project p declares it`,
		`child id "v-1" is taken by another execution; choose another id`,
	}, msgs)

	ex, err := h.e.Get(context.Background(), "victim", "v-1")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status)
	require.Empty(t, ex.ParentID)
}

// A child id another project takes between the command and its commit
// (the store leaves an existing id as it is) is not this execution's
// child: canceling the parent must not cancel it.
func TestCancelReachesOnlyOwnChildren(t *testing.T) {
	h := newHarness(t)
	victim(h)
	addDouble(h)
	h.workflow("calc", threeSteps)
	ctx := context.Background()
	var squat sync.Once
	h.workflow("squatter", func(c *tctx, in json.RawMessage) (any, error) {
		resp := c.schedule(wire.FlowRequest{Kind: wire.FlowChild, Name: "calc", ID: "v-9", Input: []byte(`1`)})
		if resp.Error != nil {
			return nil, flowErr{resp.Error}
		}
		// The victim starts its execution under the id before this pass
		// commits the child.
		squat.Do(func() {
			_, _, err := h.e.Start(ctx, flow.StartParams{Workflow: "hold", ID: "v-9", Project: "victim"})
			require.NoError(t, err)
		})
		return c.result(resp.Step)
	})
	h.start("squatter", "sq-1", "null")
	require.Eventually(t, func() bool { return slices.Contains(h.history("sq-1"), "child_started#1") }, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, h.e.Cancel(ctx, "p", "sq-1", "stop"))
	require.Equal(t, record.FlowCanceled, h.wait("sq-1").Status)

	// Inbox first, then history: a cancel consumed before the inbox was
	// read is in the history by the time it is read.
	inbox, err := h.st.FlowInboxList(ctx, "v-9")
	require.NoError(t, err)
	require.Empty(t, inbox, "the squatter's cancel reached the victim")
	require.NotContains(t, h.history("v-9"), "cancel_requested")
	ex, err := h.e.Get(ctx, "victim", "v-9")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status)
	require.Empty(t, ex.ParentID)
}
