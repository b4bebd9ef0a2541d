package trace

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

func TestNewTracerOffForNoop(t *testing.T) {
	for name, tp := range map[string]oteltrace.TracerProvider{
		"nil": nil, "noop": noop.NewTracerProvider(), "noop pointer": &noop.TracerProvider{},
	} {
		if NewTracer(tp) != nil {
			t.Errorf("%s: a tracer that would do work for nothing", name)
		}
	}
	if NewTracer(sdktrace.NewTracerProvider()) == nil {
		t.Fatal("the SDK's provider must give a tracer")
	}
}

// With tracing off nothing on the request path allocates.
func TestTracingOffAllocatesNothing(t *testing.T) {
	var off *Tracer
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() {
		_, span := off.Start(ctx, "x")
		span.End()
		_ = HeaderOr(ctx, "")
	}); n != 0 {
		t.Fatalf("%v allocations with tracing off", n)
	}
}

func TestParentHeader(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tr := NewTracer(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	valid := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

	// A valid header is the remote parent; the child's header continues it.
	ctx, span := tr.Start(WithParentHeader(context.Background(), valid), "child")
	span.End()
	sc := span.SpanContext()
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("trace not continued: %s", sc.TraceID())
	}
	if got := rec.Ended()[0].Parent(); got.SpanID().String() != "00f067aa0ba902b7" || !got.IsRemote() {
		t.Fatalf("parent = %v", got)
	}
	if h := Header(ctx); h != "00-4bf92f3577b34da6a3ce929d0e0e4736-"+sc.SpanID().String()+"-01" {
		t.Fatalf("header of the child = %q", h)
	}
	// A span in ctx wins over a header.
	if got := WithParentHeader(ctx, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"); oteltrace.SpanContextFromContext(got).SpanID() != sc.SpanID() {
		t.Fatal("a header replaced the span in ctx")
	}
	// Malformed: nothing to continue.
	for _, h := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"} {
		if got := WithParentHeader(context.Background(), h); oteltrace.SpanContextFromContext(got).IsValid() {
			t.Fatalf("%q was continued", h)
		}
	}
	// Not sampled stays not sampled.
	sc2, ok := SpanContextOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	if !ok || sc2.IsSampled() {
		t.Fatalf("flags 00: %v %v", sc2, ok)
	}
}

// The invocation's Context is its span's: ids, flags and parent.
func TestFromSpan(t *testing.T) {
	tr := NewTracer(sdktrace.NewTracerProvider())
	parent, _ := SpanContextOf("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	_, span := tr.Start(oteltrace.ContextWithRemoteSpanContext(context.Background(), parent), "inv")
	var buf [HeaderLen]byte
	var pbuf [16]byte
	tc, h := FromSpan(&buf, &pbuf, span.SpanContext(), parent)
	sc := span.SpanContext()
	if tc.TraceID != sc.TraceID().String() || tc.SpanID != sc.SpanID().String() || tc.ParentID != "00f067aa0ba902b7" || tc.Flags != "01" {
		t.Fatalf("context %+v from span %v", tc, sc)
	}
	if h != tc.Header() {
		t.Fatalf("header %q, context renders %q", h, tc.Header())
	}
	if tc, _ := FromSpan(&buf, &pbuf, sc, oteltrace.SpanContext{}); tc.ParentID != "" {
		t.Fatalf("a root span has parent %q", tc.ParentID)
	}
}

func TestSQLOp(t *testing.T) {
	for sql, want := range map[string]string{
		"SELECT * FROM users WHERE id = $1":          "SELECT",
		"  select 1":                                 "SELECT",
		"insert into items (name) values ('secret')": "INSERT INTO",
		"DELETE FROM t":                              "DELETE FROM",
		"-- note\n/* c */ UPDATE t SET x = 1":        "UPDATE",
		"(SELECT 1) UNION (SELECT 2)":                "SELECT",
		"CREATE TABLE t (x)":                         "CREATE TABLE",
		"WITH x AS (SELECT 1) SELECT * FROM x":       "WITH",
		"":                                           "",
		"'quoted' nonsense":                          "",
		"/* never closed":                            "",
	} {
		if got := SQLOp(sql); got != want {
			t.Errorf("SQLOp(%q) = %q, want %q", sql, got, want)
		}
	}
}
