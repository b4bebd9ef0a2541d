package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/telemetry"
)

// A node configured with a collector and full sampling sends the spans
// recorded with its provider both to the collector (decoded here from
// OTLP/HTTP protobuf) and to its own trace store, and counts them on its
// registry.
func TestTelemetryPipeline(t *testing.T) {
	var mu sync.Mutex
	var names []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					names = append(names, sp.Name)
				}
			}
		}
		mu.Unlock()
	}))
	t.Cleanup(collector.Close)

	n := startNodeWith(t, "", func(c *config.Config) {
		c.TraceSample = 1
		c.OTLPEndpoint = collector.URL
	})
	require.NotNil(t, n.srv.tel)
	tr := n.srv.tracerProvider.Tracer("test")
	ctx, root := tr.Start(context.Background(), "GET /hello", trace.WithAttributes(attribute.String(telemetry.AttrProject, "shop")))
	_, child := tr.Start(ctx, "invoke hello", trace.WithAttributes(attribute.String(telemetry.AttrProject, "shop"),
		attribute.String(telemetry.AttrFunction, "hello")))
	child.End()
	root.End()
	require.NoError(t, n.srv.tel.Flush(context.Background()))

	mu.Lock()
	require.ElementsMatch(t, []string{"GET /hello", "invoke hello"}, names)
	mu.Unlock()
	ts, err := n.srv.st.TraceList(context.Background(), store.TraceListParams{Project: "shop", Function: "hello"})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.Equal(t, "GET /hello", ts[0].Name)
	require.Equal(t, 2, ts[0].Spans)

	exported := map[string]float64{}
	mfs, err := n.srv.metrics.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "strata_spans_exported_total" {
			for _, m := range mf.GetMetric() {
				exported[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, map[string]float64{"store": 2, "otlp": 2}, exported)
}

// --trace-sample 0 turns tracing off: no pipeline, a provider that
// records nothing.
func TestTelemetryOff(t *testing.T) {
	n := startNodeWith(t, "", func(c *config.Config) { c.TraceSample = 0 })
	require.Nil(t, n.srv.tel)
	_, sp := n.srv.tracerProvider.Tracer("test").Start(context.Background(), "x")
	require.False(t, sp.IsRecording())
	sp.End()
}
