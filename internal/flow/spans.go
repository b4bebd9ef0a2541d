package flow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
)

// Names of the flow engine's spans.
const (
	SpanStart  = "workflow start"  // an execution is started (by a route, a function, a parent)
	SpanRun    = "workflow run"    // a node drives an execution: one per claim, so a restart adds one
	SpanStep   = "workflow step"   // one attempt of an activity call
	SpanTimer  = "workflow timer"  // a durable sleep, from its start to its firing
	SpanSignal = "workflow signal" // a signal sent, and one received by a waiting step
)

// startSpan records the start of an execution, a child of the starter's
// span (in ctx, else its traceparent header), and returns the header that
// the execution stores in its started event: every later span of the
// execution (its runs, steps, timers, children), on whatever node and
// after whatever restart, joins the trace under this span. Without a
// tracer it returns h as it was given.
func (e *Engine) startSpan(ctx context.Context, h string, p StartParams, project, id string) string {
	if e.cfg.Tracer == nil {
		return h
	}
	ctx = trace.WithParentHeader(ctx, h)
	ctx, span := e.cfg.Tracer.Start(ctx, SpanStart, oteltrace.WithSpanKind(oteltrace.SpanKindProducer),
		oteltrace.WithAttributes(trace.KeyProject.String(project), trace.KeyWorkflow.String(p.Workflow), trace.KeyExecutionID.String(id)))
	span.End()
	return trace.Header(ctx)
}

// starterOf is the traceparent a started event stored ("" before this
// field existed).
func starterOf(ev record.FlowEvent) string {
	var d startedData
	_ = json.Unmarshal(ev.Data, &d)
	return d.TraceParent
}

// runSpan starts the span of the node's drive of r, a child of the
// execution's start span. An execution started before tracing stored
// one still joins its trace: the parent is then a span id derived from
// the execution id, which no recorded span has.
func (e *Engine) runSpan(ctx context.Context, r *Run) (context.Context, oteltrace.Span) {
	parent := r.starter
	if _, ok := trace.SpanContextOf(parent); !ok && len(r.exec.TraceID) == 32 {
		sum := sha256.Sum256([]byte(r.exec.ID))
		parent = "00-" + r.exec.TraceID + "-" + hex.EncodeToString(sum[:8]) + "-01"
	}
	ctx = trace.WithParentHeader(ctx, parent)
	return e.cfg.Tracer.Start(ctx, SpanRun, oteltrace.WithAttributes(r.attrs()...))
}

func (r *Run) attrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		trace.KeyProject.String(r.exec.Project), trace.KeyFunction.String(r.exec.Function),
		trace.KeyWorkflow.String(r.exec.Workflow), trace.KeyExecutionID.String(r.exec.ID),
	}
}

// inRun is ctx with the run's span as parent, for work the run starts
// from a context of its own (activity attempts).
func (r *Run) inRun(ctx context.Context) context.Context {
	if !r.runSC.IsValid() {
		return ctx
	}
	return oteltrace.ContextWithSpanContext(ctx, r.runSC)
}

// stepSpan starts the span of attempt of step k, calling fn.
func (r *Run) stepSpan(ctx context.Context, k int, fn string, attempt int) (context.Context, oteltrace.Span) {
	return r.e.cfg.Tracer.Start(r.inRun(ctx), SpanStep, oteltrace.WithAttributes(
		trace.KeyProject.String(r.exec.Project), trace.KeyFunction.String(fn),
		trace.KeyWorkflow.String(r.exec.Workflow), trace.KeyExecutionID.String(r.exec.ID),
		trace.KeyStep.Int(k), trace.KeyAttempt.Int(attempt)))
}

// recordWait records a timer that fired or a signal that was received at
// step k: a span of the run, from when the step began to wait until now.
func (r *Run) recordWait(name string, k int, since time.Time, signal string) {
	if r.e.cfg.Tracer == nil {
		return
	}
	attrs := append(r.attrs(), trace.KeyStep.Int(k))
	if signal != "" {
		attrs = append(attrs, trace.KeySignal.String(signal))
	}
	_, span := r.e.cfg.Tracer.Start(r.inRun(context.Background()), name,
		oteltrace.WithTimestamp(since), oteltrace.WithAttributes(attrs...))
	span.End()
}

// signalSpan records a signal sent to execution id.
func (e *Engine) signalSpan(ctx context.Context, project, id, name string) {
	if e.cfg.Tracer == nil {
		return
	}
	_, span := e.cfg.Tracer.Start(ctx, SpanSignal, oteltrace.WithSpanKind(oteltrace.SpanKindProducer), oteltrace.WithAttributes(
		trace.KeyProject.String(project), trace.KeyExecutionID.String(id), trace.KeySignal.String(name)))
	span.End()
}
