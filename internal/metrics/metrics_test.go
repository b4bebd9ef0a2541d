package metrics_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestInvocations: each outcome counts in invocations_total; failures
// also in errors, refusals in throttles and not in the histogram; cold
// starts by project and function.
func TestInvocations(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.NewInvocations(reg)
	obs := func(project, fn, trigger, outcome string, d time.Duration, cold bool) {
		m.ObserveInvocation(project, record.Usage{Function: fn, Trigger: trigger, Outcome: outcome, Duration: d, Cold: cold})
	}
	obs("a", "f", "http", record.OutcomeOK, 2*time.Millisecond, true)
	obs("a", "f", "http", record.OutcomeOK, 3*time.Millisecond, false)
	obs("a", "f", "http", record.OutcomeError, time.Millisecond, false)
	obs("a", "f", "queue", record.OutcomeTimeout, time.Second, false)
	obs("a", "f", "http", record.OutcomeCPULimit, 50*time.Millisecond, false)
	obs("a", "f", "http", record.OutcomeLimited, 0, false)
	obs("a", "f", "http", record.OutcomeLimited, 0, false)
	obs("b", "g", "invoke", record.OutcomeOK, time.Millisecond, true)

	require.Equal(t, map[string]float64{
		`function="f",outcome="cpu_limit",project="a",trigger="http"`: 1,
		`function="f",outcome="error",project="a",trigger="http"`:     1,
		`function="f",outcome="limited",project="a",trigger="http"`:   2,
		`function="f",outcome="ok",project="a",trigger="http"`:        2,
		`function="f",outcome="timeout",project="a",trigger="queue"`:  1,
		`function="g",outcome="ok",project="b",trigger="invoke"`:      1,
	}, samples(t, reg, "strata_invocations_total"))
	require.Equal(t, map[string]float64{
		`function="f",outcome="cpu_limit",project="a",trigger="http"`: 1,
		`function="f",outcome="error",project="a",trigger="http"`:     1,
		`function="f",outcome="timeout",project="a",trigger="queue"`:  1,
	}, samples(t, reg, "strata_invocation_errors_total"))
	require.Equal(t, map[string]float64{`function="f",project="a",trigger="http"`: 2}, samples(t, reg, "strata_invocation_throttles_total"))
	require.Equal(t, map[string]float64{`function="f",project="a"`: 1, `function="g",project="b"`: 1}, samples(t, reg, "strata_cold_starts_total"))
	// Refused invocations did not run: no duration for them.
	require.Equal(t, map[string]float64{
		`function="f",outcome="cpu_limit",project="a",trigger="http"`: 1,
		`function="f",outcome="error",project="a",trigger="http"`:     1,
		`function="f",outcome="ok",project="a",trigger="http"`:        2,
		`function="f",outcome="timeout",project="a",trigger="queue"`:  1,
		`function="g",outcome="ok",project="b",trigger="invoke"`:      1,
	}, samples(t, reg, "strata_invocation_duration_seconds"))
}

// samples gathers reg and returns name's samples by their labels (k="v"
// pairs in name order): a counter's or gauge's value, a histogram's count.
func samples(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, lp := range m.GetLabel() {
				ls = append(ls, lp.GetName()+`="`+lp.GetValue()+`"`)
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
			out[strings.Join(ls, ",")] = v
		}
	}
	return out
}

// BenchmarkObserveInvocation: the warm path of the hook allocates nothing.
func BenchmarkObserveInvocation(b *testing.B) {
	m := metrics.NewInvocations(prometheus.NewRegistry())
	u := record.Usage{Function: "f", Trigger: "http", Outcome: record.OutcomeOK, Duration: time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveInvocation("a", u)
	}
}

func TestObserveInvocationAllocatesNothing(t *testing.T) {
	m := metrics.NewInvocations(prometheus.NewRegistry())
	u := record.Usage{Function: "f", Trigger: "http", Outcome: record.OutcomeOK, Duration: time.Millisecond, Cold: true}
	m.ObserveInvocation("a", u)
	require.Zero(t, testing.AllocsPerRun(100, func() { m.ObserveInvocation("a", u) }))
}

// TestStoreOps: a real SQLite store reports each operation by name.
func TestStoreOps(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	reg := prometheus.NewRegistry()
	st.ObserveOperations(metrics.NewStoreOps(reg).Observe)
	for range 3 {
		_, err := st.TokenCount(ctx)
		require.NoError(t, err)
	}
	require.NoError(t, st.LogInsert(ctx, []record.LogLine{{InvocationID: "i", Function: "f", Time: time.Now(), Stream: "stdout", Line: "x"}}))
	got := samples(t, reg, "strata_store_operation_duration_seconds")
	require.Equal(t, 3.0, got[`operation="TokenCount"`])
	require.Equal(t, 1.0, got[`operation="LogInsert"`])
}

// TestStoreCollector reads queue depths, the oldest message's age,
// dead-letter queue sizes and workflow executions from a real SQLite
// store, and reads them again only once the TTL has passed.
func TestStoreCollector(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "shop", Routes: []record.Route{}, Events: &store.EventsApplyParams{
		Queues: []record.QueueConfig{
			{Name: "orders", Kind: record.QueueUser, MaxReceives: 3, DeadLetter: "orders-dlq"},
			{Name: "orders-dlq", Kind: record.QueueUser},
		},
	}})
	require.NoError(t, err)
	send := func(queue string, n int) {
		for range n {
			_, err := st.MessageSend(ctx, []store.MessageSendParams{{Queue: queue, Body: []byte("{}")}})
			require.NoError(t, err)
		}
	}
	send("orders", 3)
	send("orders-dlq", 2)
	_, _, err = st.FlowStart(ctx, store.FlowStartParams{Execution: record.FlowExecution{ID: "e1", Project: "shop", Workflow: "checkout", Function: "shop-fn"}}, time.Now())
	require.NoError(t, err)

	clk := clock.NewFake(time.Now().Add(time.Minute))
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewStoreCollector(st, nil, clk, 10*time.Second))
	gauge := func(name string, labels map[string]string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
		next:
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
						continue next
					}
				}
				return m.GetGauge().GetValue()
			}
		}
		t.Fatalf("no %s %v", name, labels)
		return 0
	}
	require.Equal(t, 3.0, gauge("strata_queue_messages", map[string]string{"queue": "orders", "state": "visible", "project": "shop"}))
	require.Equal(t, 0.0, gauge("strata_queue_messages", map[string]string{"queue": "orders", "state": "in_flight"}))
	require.InDelta(t, 60.0, gauge("strata_queue_oldest_message_age_seconds", map[string]string{"queue": "orders"}), 5)
	require.Equal(t, 2.0, gauge("strata_dlq_messages", map[string]string{"queue": "orders-dlq"}))
	require.Equal(t, 1.0, gauge("strata_workflow_executions", map[string]string{"workflow": "checkout", "status": record.FlowRunning}))
	require.Len(t, samples(t, reg, "strata_dlq_messages"), 1, "orders is no dead-letter queue")

	// Within the TTL a scrape reuses what was read; after it, it reads again.
	send("orders", 1)
	require.Equal(t, 3.0, gauge("strata_queue_messages", map[string]string{"queue": "orders", "state": "visible"}))
	clk.Advance(11 * time.Second)
	require.Equal(t, 4.0, gauge("strata_queue_messages", map[string]string{"queue": "orders", "state": "visible"}))
}
