package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
)

// TestWorkflowScenario runs the workflow scenario with tiny sizes and no
// peers through the real engine: the store (SQLite, and PostgreSQL when
// STRATA_TEST_POSTGRES is set), the runtime, the invoker and both Go
// guests. The scenario itself checks that every execution completed and
// that the activity ran exactly once per step; this test checks that the
// report carries every figure, consistently, never how fast.
func TestWorkflowScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two Go guests; run without -short")
	}
	pg := os.Getenv("STRATA_TEST_POSTGRES")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	jsonPath := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"-only", "workflow", "-workflows", "6", "-workflow-clients", "3", "-workflow-lone", "3",
		"-workflow-steps", "50", "-workflow-peers", "", "-postgres", pg, "-json", jsonPath,
	}, &stdout, &stderr)
	require.NoError(t, err, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())

	b, err := os.ReadFile(jsonPath)
	require.NoError(t, err)
	var rep report
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Empty(t, rep.Failures)
	assert.Contains(t, stdout.String(), "workflows (3 no-op steps)", "the table is printed")
	assert.Contains(t, stdout.String(), "long workflow")
	assert.Empty(t, rep.WorkflowRatios, "no peer ran")

	require.Len(t, rep.Workflow, 2, "strata on two stores, no peer")
	for _, w := range rep.Workflow {
		require.Equal(t, systemStrata, w.System)
		if w.Store == storePostgres && pg == "" {
			assert.NotEmpty(t, w.Skipped)
			continue
		}
		assert.Empty(t, w.Skipped, w.Store)
		assert.Empty(t, w.Error, w.Store)
		assert.Equal(t, 6, w.Workflows, w.Store)
		assert.Equal(t, 3, w.Concurrency, w.Store)
		assert.Positive(t, w.Seconds, w.Store)
		assert.InDelta(t, 6/w.Seconds, w.WfPerSec, 0.1*w.WfPerSec, w.Store)
		assert.Equal(t, 3, w.Lone, w.Store)
		assert.Positive(t, w.LoneP50ms, w.Store)
		assert.GreaterOrEqual(t, w.LoneP99ms, w.LoneP50ms, w.Store)
		assert.Equal(t, int64(3*(6+3)), w.Activities, "three noop calls per workflow, %s", w.Store)
		assert.NotNil(t, w.Met, "%s throughput is checked against its target", w.Store)
		if w.Store == storeSQLite {
			assert.NotNil(t, w.LoneMet, "the lone p50 is checked on SQLite")
		}
	}

	require.Len(t, rep.WorkflowSteps, 2)
	for _, s := range rep.WorkflowSteps {
		if s.Store == storePostgres && pg == "" {
			assert.NotEmpty(t, s.Skipped)
			continue
		}
		assert.Empty(t, s.Error, s.Store)
		assert.Equal(t, 50, s.Steps, s.Store)
		// started, a scheduled and a completed event per step, completed.
		assert.Equal(t, 2*50+2, s.Events, s.Store)
		assert.Positive(t, s.Seconds, s.Store)
		assert.Positive(t, s.StepsPerSec, s.Store)
		assert.Equal(t, 5, s.BlockSize, s.Store)
		require.Len(t, s.CurveUS, wfCurveBlocks, s.Store)
		for i, v := range s.CurveUS {
			assert.Positive(t, v, "%s block %d", s.Store, i)
		}
		assert.InDelta(t, s.CurveUS[len(s.CurveUS)-1]/s.CurveUS[0], s.Growth, 0.01, s.Store)
	}
}

// history builds the history of a workflow whose step k completes at
// start + at[k-1].
func history(start time.Time, at ...time.Duration) []record.FlowEvent {
	h := []record.FlowEvent{{Seq: 1, Type: flow.EvStarted, Time: start}}
	for i, d := range at {
		h = append(h,
			record.FlowEvent{Seq: len(h) + 1, Type: flow.EvCallScheduled, Step: i + 1, Time: start},
			record.FlowEvent{Seq: len(h) + 2, Type: flow.EvCallCompleted, Step: i + 1, Time: start.Add(d)})
	}
	return append(h, record.FlowEvent{Seq: len(h) + 1, Type: flow.EvCompleted, Time: start.Add(at[len(at)-1])})
}

func TestStepCurve(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	ms := time.Millisecond
	// Four steps in two blocks: 1 ms per step, then 3 ms per step.
	size, curve, growth, err := stepCurve(history(start, 1*ms, 2*ms, 5*ms, 8*ms), 4, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, size)
	assert.Equal(t, []float64{1000, 3000}, curve)
	assert.Equal(t, 3.0, growth)

	// Steps that do not divide into blocks: the rest is left out.
	size, curve, _, err = stepCurve(history(start, ms, 2*ms, 3*ms, 4*ms, 5*ms), 5, 2)
	require.NoError(t, err)
	assert.Equal(t, 2, size)
	assert.Len(t, curve, 2)

	_, _, _, err = stepCurve(history(start, ms, 2*ms), 3, 2)
	require.ErrorContains(t, err, "2 completed calls, want 3")

	h := history(start, ms, 2*ms)
	h[2].Step, h[4].Step = 2, 1
	_, _, _, err = stepCurve(h, 2, 2)
	require.ErrorContains(t, err, "call_completed of step 2 after 0 steps")

	_, _, _, err = stepCurve(h[1:], 2, 2)
	require.ErrorContains(t, err, "does not begin with a started event")
}

func TestWorkflowReport(t *testing.T) {
	r := &report{}
	r.addWorkflow(workflowResult{System: systemStrata, Store: storeSQLite, WfPerSec: 1200, TargetWfPerSec: targetWfSQLite,
		LoneP50ms: 2, LoneP99ms: 4, TargetLoneP50: 3})
	r.addWorkflow(workflowResult{System: systemStrata, Store: storePostgres, WfPerSec: 500, TargetWfPerSec: targetWfPostgres, LoneP50ms: 8})
	r.addWorkflow(workflowResult{System: peerDBOS, Store: storeSQLite, WfPerSec: 300, LoneP50ms: 2.5})
	r.addWorkflow(workflowResult{System: peerDBOS, Store: storePostgres, Error: "dbos peer on postgres: boom"})
	r.addWorkflow(workflowResult{System: peerTemporal, Store: storeSQLite, WfPerSec: 10, LoneP50ms: 400})
	r.finish()

	require.NotNil(t, r.Workflow[0].Met)
	assert.True(t, *r.Workflow[0].Met)
	require.NotNil(t, r.Workflow[0].LoneMet)
	assert.True(t, *r.Workflow[0].LoneMet)
	require.NotNil(t, r.Workflow[1].Met)
	assert.False(t, *r.Workflow[1].Met, "500 wf/s misses 600")
	assert.Nil(t, r.Workflow[1].LoneMet, "no lone target on PostgreSQL")
	assert.Empty(t, r.Failures, "a peer's error is reported, not a failure of the run")
	assert.Equal(t, []comparison{
		{Name: "wf/s strata/dbos sqlite", Value: 4},
		{Name: "lone p50 strata/dbos sqlite", Value: 0.8},
		{Name: "wf/s strata/temporal sqlite", Value: 120},
		{Name: "lone p50 strata/temporal sqlite", Value: 0.005},
	}, r.WorkflowRatios)

	r.addWorkflow(workflowResult{System: systemStrata, Store: storeSQLite, Error: "execution tp-1 closed failed"})
	r.addWorkflowSteps(workflowStepsResult{Store: storeSQLite, Steps: 10, Error: "boom"})
	assert.Len(t, r.Failures, 2, "Strata's errors fail the run")
	require.NoError(t, r.writeTable(io.Discard))
}

func TestWorkflowFlags(t *testing.T) {
	o, err := parseFlags([]string{"-only", "workflow"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, allWorkflowPeers, o.WorkflowPeers)
	assert.Equal(t, 10000, o.WorkflowSteps)

	o, err = parseFlags([]string{"-only", "workflow", "-workflow-peers", ""}, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, o.WorkflowPeers)

	_, err = parseFlags([]string{"-workflow-peers", "restate"}, io.Discard)
	require.ErrorContains(t, err, `unknown name "restate"`)
	_, err = parseFlags([]string{"-workflow-steps", "0"}, io.Discard)
	require.ErrorContains(t, err, "must be at least 1")
}
