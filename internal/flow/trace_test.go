package flow_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
)

func named(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// An execution's spans join its starter's trace on the engine that
// started it and on the one that takes it over after a restart: both
// runs are children of the start span stored in its history; the timer
// and the signal it received are spans of a run, and the signal's send a
// child of the sender's span.
func TestTraceSurvivesRestart(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	h := newHarnessNoOpen(t)
	h.tracer = trace.NewTracer(tp)
	h.open()
	t.Cleanup(h.close)
	addDouble(h)
	h.workflow("nap", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		if err := c.sleep(600 * time.Millisecond); err != nil {
			return nil, err
		}
		if _, err := c.signal("go", 5*time.Second); err != nil {
			return nil, err
		}
		return c.call("double", 2, nil)
	})
	ctx, caller := tp.Tracer("test").Start(context.Background(), "caller")
	ex, _, err := h.e.Start(ctx, flow.StartParams{Workflow: "nap", ID: "nap-1", Input: []byte("null")})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return slices.Contains(h.history("nap-1"), "timer_started#2") }, 5*time.Second, time.Millisecond)
	h.restart()
	require.Eventually(t, func() bool { return slices.Contains(h.history("nap-1"), "signal_waiting#3") }, 5*time.Second, time.Millisecond)
	sctx, sender := tp.Tracer("test").Start(context.Background(), "sender")
	require.NoError(t, h.e.Signal(sctx, "p", ex.ID, "go", []byte(`1`)))
	sender.End()
	require.Equal(t, record.FlowCompleted, h.wait("nap-1").Status)
	caller.End()
	h.close() // the run span ends with the run
	tid := caller.SpanContext().TraceID()

	starts := named(rec, flow.SpanStart)
	require.Len(t, starts, 1)
	start := starts[0]
	require.Equal(t, caller.SpanContext().SpanID(), start.Parent().SpanID())
	runs := named(rec, flow.SpanRun)
	require.GreaterOrEqual(t, len(runs), 2, "a run before the restart and one after")
	for _, r := range runs {
		require.Equal(t, tid, r.SpanContext().TraceID())
		require.Equal(t, start.SpanContext().SpanID(), r.Parent().SpanID(), "a run's parent is the stored start span")
	}
	isRun := func(id oteltrace.SpanID) bool {
		for _, r := range runs {
			if r.SpanContext().SpanID() == id {
				return true
			}
		}
		return false
	}
	steps := named(rec, flow.SpanStep)
	require.Len(t, steps, 2)
	for _, s := range append(steps, named(rec, flow.SpanTimer)...) {
		require.Equal(t, tid, s.SpanContext().TraceID())
		require.True(t, isRun(s.Parent().SpanID()), "%s under a run", s.Name())
	}
	require.Len(t, named(rec, flow.SpanTimer), 1)
	var sent, received int
	for _, s := range named(rec, flow.SpanSignal) {
		switch {
		case s.Parent().SpanID() == sender.SpanContext().SpanID():
			sent++
		case isRun(s.Parent().SpanID()) && s.SpanContext().TraceID() == tid:
			received++
		default:
			t.Errorf("signal span under %v", s.Parent())
		}
	}
	require.Equal(t, 1, sent)
	require.Equal(t, 1, received)
}
