package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// BenchmarkRequestSpans measures what the request path pays for the spans
// of one request (a server span and three children with a few attributes
// each, as a gateway, an invocation and two host calls): tracing off (the
// no-op provider), the default sampling and every trace sampled, spans
// going to a real SQLite trace store. The export itself runs on the
// pipeline's goroutines; on a machine with spare cores it is off the
// request path, and its cost shows in the warm HTTP benchmark instead.
func BenchmarkRequestSpans(b *testing.B) {
	for _, bc := range []struct {
		name  string
		ratio float64 // 0: tracing off
	}{{"Off", 0}, {"Default", DefaultSampleRatio}, {"Sample1", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			var tp trace.TracerProvider = noop.NewTracerProvider()
			if bc.ratio > 0 {
				tel, err := New(context.Background(), Config{SampleRatio: bc.ratio, Store: openStore(b), MaxSpans: -1})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
				tp = tel.TracerProvider()
			}
			tr := tp.Tracer("bench")
			attrs := []attribute.KeyValue{attribute.String(AttrProject, "shop"), attribute.String(AttrFunction, "hello"), attribute.Int("strata.version", 3)}
			b.ReportAllocs()
			for b.Loop() {
				ctx, root := tr.Start(context.Background(), "GET /hello/{name}", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
				ictx, inv := tr.Start(ctx, "invoke hello", trace.WithAttributes(attrs...))
				for _, name := range []string{"kv.get", "sql.query"} {
					_, hc := tr.Start(ictx, name, trace.WithAttributes(attribute.String("db.statement", "SELECT"), attribute.Int("rows", 1)))
					hc.End()
				}
				inv.End()
				root.End()
			}
		})
	}
}
