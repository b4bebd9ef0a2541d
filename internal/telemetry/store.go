package telemetry

import (
	"context"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/store"
)

// storeExport writes batches to the built-in trace store, converting them
// there, on the batcher's goroutine, not where the span ended.
func storeExport(s store.Traces, maxLen int, p *pruner) exportFunc {
	return func(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
		out := make([]store.Span, len(spans))
		for i, sp := range spans {
			out[i] = StoreSpan(sp, maxLen)
		}
		if err := s.SpanInsert(ctx, out); err != nil {
			return err
		}
		p.wrote(len(out))
		return nil
	}
}

// StoreSpan is sp as the trace store keeps it: its strata.project and
// strata.function attributes file it (and stay among its attributes),
// every attribute value is its string form cut to maxLen bytes.
func StoreSpan(sp sdktrace.ReadOnlySpan, maxLen int) store.Span {
	sc := sp.SpanContext()
	out := store.Span{
		TraceID:       sc.TraceID().String(),
		SpanID:        sc.SpanID().String(),
		Name:          truncate(sp.Name(), maxLen),
		Kind:          kind(sp.SpanKind()),
		Start:         sp.StartTime(),
		Duration:      sp.EndTime().Sub(sp.StartTime()),
		StatusMessage: truncate(sp.Status().Description, maxLen),
		Attributes:    attrs(sp.Attributes(), maxLen),
	}
	if p := sp.Parent(); p.SpanID().IsValid() {
		out.ParentID = p.SpanID().String()
	}
	switch sp.Status().Code {
	case codes.Ok:
		out.Status = "ok"
	case codes.Error:
		out.Status = "error"
	}
	out.Project, out.Function = out.Attributes[AttrProject], out.Attributes[AttrFunction]
	for _, e := range sp.Events() {
		out.Events = append(out.Events, store.SpanEvent{Time: e.Time, Name: truncate(e.Name, maxLen), Attributes: attrs(e.Attributes, maxLen)})
	}
	return out
}

func kind(k trace.SpanKind) string {
	switch k {
	case trace.SpanKindServer:
		return "server"
	case trace.SpanKindClient:
		return "client"
	case trace.SpanKindProducer:
		return "producer"
	case trace.SpanKindConsumer:
		return "consumer"
	}
	return "internal"
}

func attrs(kvs []attribute.KeyValue, maxLen int) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		// The SDK already cut strings (span limits); a slice's string form
		// is cut here.
		m[string(kv.Key)] = truncate(kv.Value.String(), maxLen)
	}
	return m
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
