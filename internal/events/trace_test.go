package events

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/trace"
)

// A schedule fire starts a trace: its message carries the fire's span, and
// the delivery of that message is the fire's child.
func TestScheduleFireStartsTrace(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.BlobPut(ctx, blobSHA(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	q := record.QueueConfig{Name: AsyncQueue("fn"), Project: "p", Kind: record.QueueAsync, VisibilityTimeout: time.Second, MaxReceives: 3, Consumer: "fn", BatchSize: 1}
	_, err = st.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "fn", ModuleSHA256: blobSHA(), Config: record.FunctionConfig{Kind: "reactor", MemoryMB: 64, TimeoutMS: 1000, MaxConcurrency: 4}}},
		Routes:      []record.Route{},
		Events: &store.EventsApplyParams{Queues: []record.QueueConfig{q}, Schedules: []record.Schedule{
			{Name: "nightly", Project: "p", Function: "fn", Spec: "0 3 * * *", NextFire: time.Date(2030, 11, 25, 3, 0, 0, 0, time.UTC)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tr := trace.NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	rec := &recorder{seen: make(chan struct{}, 1)}
	e := New(Config{Store: st, Invoker: rec, Clock: clock.NewFake(time.Date(2030, 11, 25, 3, 0, 30, 0, time.UTC)), Tracer: tr, PollInterval: 20 * time.Millisecond})
	if _, err := e.FireDue(ctx); err != nil {
		t.Fatal(err)
	}
	ended := spans.Ended()
	if len(ended) != 1 || ended[0].Name() != SpanScheduleFire {
		t.Fatalf("spans after the fire: %v", ended)
	}
	fire := ended[0]
	if fire.Parent().IsValid() {
		t.Fatalf("a fire has a parent: %v", fire.Parent())
	}
	ms, err := st.MessagePeek(ctx, q.Name, 10)
	if err != nil || len(ms) != 1 {
		t.Fatal(ms, err)
	}
	if got, want := ms[0].Attributes["traceparent"], "00-"+fire.SpanContext().TraceID().String()+"-"+fire.SpanContext().SpanID().String()+"-01"; got != want {
		t.Fatalf("the message's traceparent %q, the fire's span %q", got, want)
	}

	// Delivered by an engine on the wall clock (the fake one never
	// moves); the next fire is years away for it.
	e = New(Config{Store: st, Invoker: rec, Tracer: tr, PollInterval: 20 * time.Millisecond})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Stop(context.Background()) }()
	waitFor(t, "the delivery span", func() bool { return len(spans.Ended()) >= 2 })
	d := spans.Ended()[1]
	if d.Name() != SpanDeliver || d.Parent().SpanID() != fire.SpanContext().SpanID() || d.SpanContext().TraceID() != fire.SpanContext().TraceID() {
		t.Fatalf("delivery %q under %v, want under the fire %v", d.Name(), d.Parent(), fire.SpanContext())
	}
	for _, kv := range d.Attributes() {
		if kv.Key == trace.KeyTrigger && kv.Value.AsString() != "schedule" {
			t.Fatalf("trigger %q", kv.Value.AsString())
		}
	}
}
