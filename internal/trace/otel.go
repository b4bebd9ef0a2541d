package trace

import (
	"context"
	"encoding/hex"
	"unsafe"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	oteltrace "go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName names Strata's tracer (the instrumentation scope of
// every span the node records).
const InstrumentationName = "github.com/stratahq/strata"

// Attribute keys of Strata's spans, in one place. The trace store files
// spans by KeyProject and KeyFunction, so every span that belongs to a
// project or a function carries them.
const (
	KeyProject      = attribute.Key("strata.project")
	KeyFunction     = attribute.Key("strata.function")
	KeyVersion      = attribute.Key("strata.version")
	KeyInvocationID = attribute.Key("strata.invocation_id")
	KeyTrigger      = attribute.Key("strata.trigger")
	KeyColdStart    = attribute.Key("strata.cold_start")
	KeyMemoryMB     = attribute.Key("strata.memory_mb")
	KeyOutcome      = attribute.Key("strata.outcome")
	KeyBilledMS     = attribute.Key("strata.billed_ms")
	KeyStatus       = attribute.Key("strata.status") // the function's HTTP answer

	KeyRoute  = attribute.Key("http.route")
	KeyMethod = attribute.Key("http.request.method")
	KeyHTTP   = attribute.Key("http.response.status_code")

	KeyBinding   = attribute.Key("strata.binding")
	KeySQLOp     = attribute.Key("db.operation.name") // the statement's first words: "SELECT", "INSERT INTO"
	KeySQLRows   = attribute.Key("db.response.rows")  // rows returned (query) or affected (exec)
	KeyKVOp      = attribute.Key("strata.kv.op")
	KeyKVFound   = attribute.Key("strata.kv.found")
	KeyHost      = attribute.Key("server.address") // a fetch's host, never its path or query
	KeySecret    = attribute.Key("strata.secret.name")
	KeyQueue     = attribute.Key("messaging.destination.name")
	KeyTopic     = attribute.Key("strata.topic")
	KeyEventID   = attribute.Key("messaging.message.id")
	KeyAttempt   = attribute.Key("strata.attempt")
	KeyBatchSize = attribute.Key("messaging.batch.message_count")
	KeySchedule  = attribute.Key("strata.schedule")

	KeyWorkflow    = attribute.Key("strata.workflow")
	KeyExecutionID = attribute.Key("strata.execution_id")
	KeyStep        = attribute.Key("strata.step")
	KeySignal      = attribute.Key("strata.signal")
)

// Tracer records Strata's spans on an OpenTelemetry tracer. A nil
// *Tracer records nothing: NewTracer returns nil for the no-op provider,
// so components test `t != nil` (or call the nil-safe Start) and the
// request path does no tracing work at all when tracing is off.
type Tracer struct {
	t oteltrace.Tracer
}

// NewTracer is a Tracer of tp, or nil when tp is nil or a no-op provider.
func NewTracer(tp oteltrace.TracerProvider) *Tracer {
	switch tp.(type) {
	case nil, noop.TracerProvider, *noop.TracerProvider:
		return nil
	}
	return &Tracer{t: tp.Tracer(InstrumentationName)}
}

// noSpan is the non-recording span a nil Tracer hands out.
var noSpan = oteltrace.SpanFromContext(context.Background())

// Start starts a span as a child of ctx's span (a root span when ctx
// holds none). On a nil Tracer it returns ctx and a span that records
// nothing.
func (t *Tracer) Start(ctx context.Context, name string, opts ...oteltrace.SpanStartOption) (context.Context, oteltrace.Span) {
	if t == nil {
		return ctx, noSpan
	}
	return t.t.Start(ctx, name, opts...)
}

// WithParentHeader returns ctx with the span of a traceparent header as
// its remote parent, so the next span started in it continues the
// caller's trace. When ctx already holds a valid span (the gateway's
// request span, a queue delivery), that span stays the parent; when h is
// absent or malformed, ctx is returned as it is and the next span starts a
// new trace (as the W3C spec says a receiver must).
func WithParentHeader(ctx context.Context, h string) context.Context {
	if h == "" || oteltrace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	sc, ok := SpanContextOf(h)
	if !ok {
		return ctx
	}
	return oteltrace.ContextWithRemoteSpanContext(ctx, sc)
}

// SpanContextOf parses a traceparent header into a remote span context.
func SpanContextOf(h string) (oteltrace.SpanContext, bool) {
	traceID, spanID, flags, ok := parseTraceparent(h)
	if !ok {
		return oteltrace.SpanContext{}, false
	}
	var cfg oteltrace.SpanContextConfig
	var f [1]byte
	// parseTraceparent checked the hex.
	_, _ = hex.Decode(cfg.TraceID[:], unsafe.Slice(unsafe.StringData(traceID), len(traceID)))
	_, _ = hex.Decode(cfg.SpanID[:], unsafe.Slice(unsafe.StringData(spanID), len(spanID)))
	_, _ = hex.Decode(f[:], unsafe.Slice(unsafe.StringData(flags), len(flags)))
	cfg.TraceFlags = oteltrace.TraceFlags(f[0]) & oteltrace.FlagsSampled
	cfg.Remote = true
	return oteltrace.NewSpanContext(cfg), true
}

// Header is the traceparent header of ctx's span, "" when ctx holds no
// valid span (tracing off, or nothing started yet). It is what a message,
// an async invocation or a workflow stores to continue the trace later.
func Header(ctx context.Context) string {
	sc := oteltrace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	var buf [HeaderLen]byte
	return string(writeHeader(&buf, sc))
}

// HeaderOr is Header(ctx), or fallback when ctx holds no valid span.
func HeaderOr(ctx context.Context, fallback string) string {
	if h := Header(ctx); h != "" {
		return h
	}
	return fallback
}

func writeHeader(buf *[HeaderLen]byte, sc oteltrace.SpanContext) []byte {
	tid, sid, f := sc.TraceID(), sc.SpanID(), [1]byte{byte(sc.TraceFlags())}
	copy(buf[0:3], "00-")
	hex.Encode(buf[3:35], tid[:])
	buf[35] = '-'
	hex.Encode(buf[36:52], sid[:])
	buf[52] = '-'
	hex.Encode(buf[53:55], f[:])
	return buf[:]
}

// FromSpan is the Context of an invocation whose OpenTelemetry span is sc
// and whose parent is parent (invalid: the trace starts here), written
// into buf and parentBuf like NewIn: the invocation's span id, on its log
// lines, its usage record and the traceparent returned to its caller, is
// its span's id.
func FromSpan(buf *[HeaderLen]byte, parentBuf *[16]byte, sc, parent oteltrace.SpanContext) (Context, string) {
	writeHeader(buf, sc)
	h := unsafe.String(&buf[0], HeaderLen)
	tc := Context{TraceID: h[3:35], SpanID: h[36:52], Flags: h[53:55]}
	if parent.IsValid() {
		sid := parent.SpanID()
		hex.Encode(parentBuf[:], sid[:])
		tc.ParentID = unsafe.String(&parentBuf[0], len(parentBuf))
	}
	return tc, h
}

// Fail marks span as failed with msg (status Error).
func Fail(span oteltrace.Span, msg string) {
	span.SetStatus(codes.Error, msg)
}

// FailErr is Fail with err's text; a nil err does nothing.
func FailErr(span oteltrace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
}
