package wasm

import (
	"context"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Names of the host-call spans: constants, so a span's name never holds
// what a guest sent (a key, a URL, a statement).
const (
	SpanSQL          = "sql"
	SpanKVGet        = "kv get"
	SpanKVPut        = "kv put"
	SpanKVList       = "kv list"
	SpanKVDelete     = "kv delete"
	SpanKV           = "kv"
	SpanFetch        = "fetch"
	SpanSecret       = "secret read"
	SpanQueueSend    = "queue send"
	SpanTopicPublish = "topic publish"
)

// hostSpan starts the span of a host call of the invocation c (nil
// outside one) with t; with no tracer the span is nil and callers skip
// every attribute.
func hostSpan(ctx context.Context, t *trace.Tracer, c *host.Call, name string, kind oteltrace.SpanKind, attrs ...attribute.KeyValue) (context.Context, oteltrace.Span) {
	if t == nil {
		return ctx, nil
	}
	if c != nil {
		attrs = append(attrs, trace.KeyProject.String(c.Project), trace.KeyFunction.String(c.Function))
	}
	return t.Start(ctx, name, oteltrace.WithSpanKind(kind), oteltrace.WithAttributes(attrs...))
}

// Traced wraps b so that every call records its host-call span with t, a
// child of the span in the call's context (the invocation's). Both
// runtimes call their bindings through it (wasm.New, process.New), so a
// binding call's span reads the same from a Wasm guest and from a
// Node.js or Python handler. A nil b or t is returned as it is.
func Traced(b Bindings, t *trace.Tracer) Bindings {
	if b == nil || t == nil {
		return b
	}
	if _, ok := b.(tracedBindings); ok {
		return b
	}
	return tracedBindings{b: b, t: t}
}

type tracedBindings struct {
	b Bindings
	t *trace.Tracer
}

func (tb tracedBindings) SQL(ctx context.Context, c *host.Call, r wire.SQLRequest) (*wire.SQLResponse, error) {
	ctx, span := hostSpan(ctx, tb.t, c, SpanSQL, oteltrace.SpanKindClient, trace.KeyBinding.String(r.Binding), trace.KeySQLOp.String(sqlOp(&r)))
	resp, err := tb.b.SQL(ctx, c, r)
	endSQL(span, &r, resp, err)
	return resp, err
}

func (tb tracedBindings) KV(ctx context.Context, c *host.Call, r wire.KVRequest) (*wire.KVResponse, error) {
	ctx, span := hostSpan(ctx, tb.t, c, kvSpanName(r.Op), oteltrace.SpanKindClient, trace.KeyBinding.String(r.Binding), trace.KeyKVOp.String(r.Op))
	resp, err := tb.b.KV(ctx, c, r)
	endKV(span, &r, resp, err)
	return resp, err
}

func (tb tracedBindings) Fetch(ctx context.Context, c *host.Call, r wire.FetchRequest) (*wire.FetchResponse, error) {
	ctx, span := hostSpan(ctx, tb.t, c, SpanFetch, oteltrace.SpanKindClient, trace.KeyHost.String(fetchHost(r.URL)))
	resp, err := tb.b.Fetch(ctx, c, r)
	endFetch(span, resp, err)
	return resp, err
}

func (tb tracedBindings) Secret(ctx context.Context, c *host.Call, name string) ([]byte, error) {
	// The name only: the value never reaches a span.
	ctx, span := hostSpan(ctx, tb.t, c, SpanSecret, oteltrace.SpanKindInternal, trace.KeySecret.String(name))
	v, err := tb.b.Secret(ctx, c, name)
	trace.FailErr(span, err)
	span.End()
	return v, err
}

// SendEvent sends ev through sink as the invocation c, recording its
// queue-send or topic-publish span with t (nil: none). The message
// carries the send's span, so its delivery joins the sender's trace as
// the send's child. Both runtimes send through it.
func SendEvent(ctx context.Context, t *trace.Tracer, c *host.Call, sink EventSink, ev OutboundEvent) (string, error) {
	if t == nil {
		return sink.SendEvent(ctx, ev)
	}
	name, key := SpanQueueSend, trace.KeyQueue
	if ev.Topic {
		name, key = SpanTopicPublish, trace.KeyTopic
	}
	ctx, span := hostSpan(ctx, t, c, name, oteltrace.SpanKindProducer, key.String(ev.Name))
	defer span.End()
	ev.TraceParent = trace.HeaderOr(ctx, ev.TraceParent)
	id, err := sink.SendEvent(ctx, ev)
	if err != nil {
		trace.FailErr(span, err)
		return "", err
	}
	span.SetAttributes(trace.KeyEventID.String(id))
	return id, nil
}

func kvSpanName(op string) string {
	switch op {
	case wire.KVGet:
		return SpanKVGet
	case wire.KVPut:
		return SpanKVPut
	case wire.KVList:
		return SpanKVList
	case wire.KVDelete:
		return SpanKVDelete
	}
	return SpanKV
}

// sqlOp is what a SQL span's operation attribute says: the statement's
// first words, or the transaction verb.
func sqlOp(r *wire.SQLRequest) string {
	if r.SQL != "" {
		return trace.SQLOp(r.SQL)
	}
	return strings.ToUpper(r.Op)
}

// fetchHost is the host of a fetch's URL: never its path or query, which
// may hold tokens.
func fetchHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// endSQL, endKV, endFetch set what the answer adds and end the span.
func endSQL(span oteltrace.Span, r *wire.SQLRequest, resp *wire.SQLResponse, err error) {
	defer span.End()
	switch {
	case err != nil:
		trace.FailErr(span, err)
	case resp == nil:
	case resp.Error != nil:
		trace.Fail(span, resp.Error.Code+": "+resp.Error.Message)
	case r.Op == wire.SQLQuery:
		span.SetAttributes(trace.KeySQLRows.Int(len(resp.Rows)))
	case r.Op == wire.SQLExec:
		span.SetAttributes(trace.KeySQLRows.Int64(resp.RowsAffected))
	}
}

func endKV(span oteltrace.Span, r *wire.KVRequest, resp *wire.KVResponse, err error) {
	defer span.End()
	switch {
	case err != nil:
		trace.FailErr(span, err)
	case resp == nil:
	case r.Op == wire.KVGet || r.Op == wire.KVDelete:
		span.SetAttributes(trace.KeyKVFound.Bool(resp.Found))
	}
}

func endFetch(span oteltrace.Span, resp *wire.FetchResponse, err error) {
	defer span.End()
	switch {
	case err != nil:
		trace.FailErr(span, err)
	case resp != nil:
		span.SetAttributes(trace.KeyHTTP.Int(resp.Status))
	}
}
