package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// storeOps reads the node's store operation counts by operation
// (strata_store_operation_duration_seconds).
func storeOps(t *testing.T, n *node) map[string]uint64 {
	t.Helper()
	mfs, err := n.srv.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, mf := range mfs {
		if mf.GetName() != "strata_store_operation_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					out[l.GetValue()] = m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return out
}

// TestWarmRequestsMakeNoStoreOperations (issue 16's sizing figure): a
// warm HTTP invocation of a function that touches no binding makes no
// store operation of its own; its usage and log records are written in
// batches. 1,000 warm requests cost a handful of batched writes.
func TestWarmRequestsMakeNoStoreOperations(t *testing.T) {
	n := startNode(t, "")
	if err := n.deploy(t, "p", fn{"hello", wasmtest.Guest(t, wasmtest.Hello), cfgOf(record.KindReactor), routes("GET /hello/{name}")}); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if code, _, body := get(t, n.url+"/hello/warm", nil); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	before := storeOps(t, n)
	const requests = 1000
	for range requests {
		if code, _, body := get(t, n.url+"/hello/x", nil); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	after := storeOps(t, n)
	var total uint64
	var parts []string
	for op, c := range after {
		if d := c - before[op]; d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %d", op, d))
		}
	}
	sort.Strings(parts)
	t.Logf("%d warm requests: %d store operations (%.4f each): %s", requests, total, float64(total)/requests, strings.Join(parts, ", "))
	if total > requests/20 {
		t.Fatalf("%d store operations for %d warm requests: something runs on the request path (%s)", total, requests, strings.Join(parts, ", "))
	}
}

// opsSince sums the store operations since before and lists them.
func opsSince(t *testing.T, n *node, before map[string]uint64) (uint64, string) {
	t.Helper()
	var total uint64
	var parts []string
	for op, c := range storeOps(t, n) {
		if d := c - before[op]; d > 0 {
			total += d
			parts = append(parts, fmt.Sprintf("%s %d", op, d))
		}
	}
	sort.Strings(parts)
	return total, strings.Join(parts, ", ")
}

// TestStoreOperationsPerMessageAndStep measures what a queue message and
// a workflow step cost the store (docs/cluster.md, sizing): a burst of
// messages sent through the API and consumed, and executions of a
// twenty-step workflow started through the API and completed. Each is
// bounded loosely, so a change that puts a store round trip per item on
// the path fails here; the figures go to the log.
func TestStoreOperationsPerMessageAndStep(t *testing.T) {
	n := startNode(t, "")
	ctx := context.Background()
	worker := upload(t, n.c, wasmtest.Guest(t, wasmtest.Hello))
	greeter := upload(t, n.c, wasmtest.BuildGuest(t, "../../sdk/go/flow/testdata/guest"))
	flows := cfgOf(record.KindReactor)
	flows.TimeoutMS = 60_000
	flows.Workflows = []record.WorkflowConfig{{Name: "count"}}
	_, err := n.c.Deploy(ctx, apitype.Spec{
		Project: "ops",
		Queues:  []apitype.QueueSpec{{Name: "jobs", VisibilityTimeoutMS: 30_000, MaxReceives: 3}},
		Functions: []apitype.FunctionSpec{
			{Name: "worker", ModuleSHA256: worker, Config: cfgOf(record.KindReactor), Queue: &apitype.QueueTrigger{Name: "jobs", BatchSize: 10}},
			{Name: "greeter", ModuleSHA256: greeter, Config: flows},
		},
	}, false)
	require.NoError(t, err)
	<-n.srv.Loaded()

	// Queue messages: sent one API call each, consumed in batches.
	const messages = 500
	before := storeOps(t, n)
	for i := range messages {
		_, err := n.c.QueueSend(ctx, "jobs", []byte(fmt.Sprint(i)), client.EventParams{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		q, err := n.c.Queue(ctx, "jobs")
		return err == nil && q.Visible == 0 && q.InFlight == 0
	}, time.Minute, 20*time.Millisecond)
	total, parts := opsSince(t, n, before)
	t.Logf("%d queue messages (send through the API, consume in batches of 10): %d store operations, %.2f per message: %s",
		messages, total, float64(total)/messages, parts)
	require.Less(t, float64(total)/messages, 6.0, "store operations per message")

	// Workflow steps: executions of 20 sequential steps.
	const executions, steps = 20, 20
	before = storeOps(t, n)
	for i := range executions {
		_, _, err := n.c.ExecutionStart(ctx, "count", fmt.Sprintf("ops-%d", i), []byte(fmt.Sprint(steps)))
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for i := range executions {
			ex, err := n.c.Execution(ctx, fmt.Sprintf("ops-%d", i))
			if err != nil || ex.Status != record.FlowCompleted {
				return false
			}
		}
		return true
	}, 2*time.Minute, 50*time.Millisecond)
	total, parts = opsSince(t, n, before)
	t.Logf("%d executions of %d steps (started through the API): %d store operations, %.2f per step: %s",
		executions, steps, total, float64(total)/(executions*steps), parts)
	require.Less(t, float64(total)/(executions*steps), 6.0, "store operations per workflow step")
}
