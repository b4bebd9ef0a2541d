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
// outside one) when the runtime has a tracer; span is nil otherwise, and
// the callers then skip every attribute.
func (i *Instance) hostSpan(ctx context.Context, name string, kind oteltrace.SpanKind, attrs ...attribute.KeyValue) (context.Context, oteltrace.Span) {
	return StartHostSpan(ctx, i.m.r.cfg.Tracer, i.call, name, kind, attrs...)
}

// StartHostSpan starts the span of a host call of the invocation c (nil
// outside one) with t; with no tracer the span is nil and callers skip
// every attribute. Process functions' binding calls (internal/process)
// start theirs here too, so a binding call's span reads the same from a
// Wasm guest and from a Node.js or Python handler.
func StartHostSpan(ctx context.Context, t *trace.Tracer, c *host.Call, name string, kind oteltrace.SpanKind, attrs ...attribute.KeyValue) (context.Context, oteltrace.Span) {
	if t == nil {
		return ctx, nil
	}
	if c != nil {
		attrs = append(attrs, trace.KeyProject.String(c.Project), trace.KeyFunction.String(c.Function))
	}
	return t.Start(ctx, name, oteltrace.WithSpanKind(kind), oteltrace.WithAttributes(attrs...))
}

func KVSpanName(op string) string {
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

// SQLOp is what a SQL span's operation attribute says: the statement's
// first words, or the transaction verb.
func SQLOp(r *wire.SQLRequest) string {
	if r.SQL != "" {
		return trace.SQLOp(r.SQL)
	}
	return strings.ToUpper(r.Op)
}

// FetchHost is the host of a fetch's URL: never its path or query, which
// may hold tokens.
func FetchHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// EndSQL, EndKV, EndFetch set what the answer adds and end the span.
func EndSQL(span oteltrace.Span, r *wire.SQLRequest, resp *wire.SQLResponse, err error) {
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

func EndKV(span oteltrace.Span, r *wire.KVRequest, resp *wire.KVResponse, err error) {
	defer span.End()
	switch {
	case err != nil:
		trace.FailErr(span, err)
	case resp == nil:
	case r.Op == wire.KVGet || r.Op == wire.KVDelete:
		span.SetAttributes(trace.KeyKVFound.Bool(resp.Found))
	}
}

func EndFetch(span oteltrace.Span, resp *wire.FetchResponse, err error) {
	defer span.End()
	switch {
	case err != nil:
		trace.FailErr(span, err)
	case resp != nil:
		span.SetAttributes(trace.KeyHTTP.Int(resp.Status))
	}
}
