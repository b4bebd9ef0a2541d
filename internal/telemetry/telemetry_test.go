package telemetry

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// receiver collects what an OTLP exporter delivers, decoded.
type receiver struct {
	mu      sync.Mutex
	spans   []*tracepb.Span
	service []string // service.name of each resource
	headers []http.Header
}

func (r *receiver) add(req *collectortrace.ExportTraceServiceRequest, h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, h)
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				r.service = append(r.service, kv.Value.GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
}

func (r *receiver) byName() map[string]*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]*tracepb.Span{}
	for _, s := range r.spans {
		m[s.Name] = s
	}
	return m
}

// httpReceiver is an OTLP/HTTP collector: it decodes protobuf posted to
// /v1/traces (any other path is a 404, so a wrong path fails the test).
func httpReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			http.NotFound(w, req)
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var msg collectortrace.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		r.add(&msg, req.Header.Clone())
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

type grpcTraces struct {
	collectortrace.UnimplementedTraceServiceServer
	r *receiver
}

func (g grpcTraces) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.r.add(req, nil)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// grpcReceiver is an OTLP/gRPC collector on a loopback port.
func grpcReceiver(t *testing.T) (*receiver, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &receiver{}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, grpcTraces{r: r})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return r, "http://" + ln.Addr().String()
}

func start(t *testing.T, cfg Config) (*Telemetry, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	if cfg.batchInterval == 0 {
		cfg.batchInterval = 10 * time.Millisecond
	}
	tel, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, reg
}

func counter(t *testing.T, reg *prometheus.Registry, name, exporter string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "exporter" && l.GetValue() == exporter {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// request makes a parent span and a child with attributes, as a gateway
// and an invocation would.
func request(tp trace.TracerProvider, huge string) {
	tr := tp.Tracer("test")
	ctx, parent := tr.Start(context.Background(), "GET /hello", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String(AttrProject, "shop")))
	_, child := tr.Start(ctx, "invoke hello", trace.WithAttributes(attribute.String(AttrProject, "shop"),
		attribute.String(AttrFunction, "hello"), attribute.Int("strata.version", 3), attribute.String("big", huge)))
	child.End()
	parent.End()
}

func requireLinked(t *testing.T, r *receiver) {
	t.Helper()
	spans := r.byName()
	require.Len(t, spans, 2)
	parent, child := spans["GET /hello"], spans["invoke hello"]
	require.NotNil(t, parent)
	require.NotNil(t, child)
	require.Equal(t, parent.TraceId, child.TraceId)
	require.Equal(t, parent.SpanId, child.ParentSpanId, "the child names its parent")
	require.Empty(t, parent.ParentSpanId)
	require.Equal(t, tracepb.Span_SPAN_KIND_SERVER, parent.Kind)
	attrs := map[string]string{}
	var version int64
	for _, kv := range child.Attributes {
		attrs[kv.Key] = kv.Value.GetStringValue()
		if kv.Key == "strata.version" {
			version = kv.Value.GetIntValue()
		}
	}
	require.Equal(t, "hello", attrs[AttrFunction])
	require.Equal(t, "shop", attrs[AttrProject])
	require.EqualValues(t, 3, version)
	require.Len(t, attrs["big"], DefaultMaxAttrLength, "a huge attribute arrives truncated")
	require.Contains(t, r.service, "strata")
}

func TestOTLPHTTP(t *testing.T) {
	r, srv := httpReceiver(t)
	tel, reg := start(t, Config{SampleRatio: 1, OTLPEndpoint: srv.URL})
	request(tel.TracerProvider(), strings.Repeat("x", 100_000))
	require.NoError(t, tel.Flush(context.Background()))
	requireLinked(t, r)
	require.Equal(t, 2.0, counter(t, reg, "strata_spans_exported_total", "otlp"))
}

func TestOTLPGRPC(t *testing.T) {
	r, endpoint := grpcReceiver(t)
	tel, reg := start(t, Config{SampleRatio: 1, OTLPEndpoint: endpoint, OTLPProtocol: ProtocolGRPC})
	request(tel.TracerProvider(), strings.Repeat("y", 100_000))
	require.NoError(t, tel.Flush(context.Background()))
	requireLinked(t, r)
	require.Equal(t, 2.0, counter(t, reg, "strata_spans_exported_total", "otlp"))
}

// The standard variables configure the exporter when no endpoint is
// given: the endpoint (a base URL: /v1/traces is appended) and headers.
func TestOTLPEnvironment(t *testing.T) {
	r, srv := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-collector-token=s3cret")
	tel, _ := start(t, Config{SampleRatio: 1, OTLPFromEnv: true})
	request(tel.TracerProvider(), "small")
	require.NoError(t, tel.Flush(context.Background()))
	requireLinked2(t, r)
	require.Equal(t, "s3cret", r.headers[0].Get("x-collector-token"))

	// The signal-specific variable is the whole URL and wins over the base.
	r2, srv2 := httpReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", srv2.URL+"/v1/traces")
	tel2, _ := start(t, Config{SampleRatio: 1, OTLPFromEnv: true})
	request(tel2.TracerProvider(), "small")
	require.NoError(t, tel2.Flush(context.Background()))
	requireLinked2(t, r2)
}

func requireLinked2(t *testing.T, r *receiver) {
	t.Helper()
	spans := r.byName()
	require.Len(t, spans, 2)
	require.Equal(t, spans["GET /hello"].SpanId, spans["invoke hello"].ParentSpanId)
}

// A collector that refuses connections costs the spans, counted, and
// nothing else.
func TestOTLPUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	for _, proto := range []string{ProtocolHTTP, ProtocolGRPC} {
		t.Run(proto, func(t *testing.T) {
			tel, reg := start(t, Config{SampleRatio: 1, OTLPEndpoint: "http://" + addr, OTLPProtocol: proto, OTLPRetry: -1})
			for range 10 {
				request(tel.TracerProvider(), "")
			}
			require.NoError(t, tel.Flush(context.Background()))
			require.Equal(t, 20.0, counter(t, reg, "strata_spans_dropped_total", "otlp"))
			require.Zero(t, counter(t, reg, "strata_spans_exported_total", "otlp"))
		})
	}
}

// A collector that accepts and does not answer holds one export; spans
// ending meanwhile fill the buffer and the rest are dropped at once,
// counted: ending a span never waits for the collector (were it to, this
// test would hang).
func TestOTLPStuckCollectorDropsWithoutBlocking(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	r, srv := httpReceiver(t)
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		srv.Config.Handler.ServeHTTP(w, req)
	}))
	t.Cleanup(stuck.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	const buffer = 8
	tel, reg := start(t, Config{SampleRatio: 1, OTLPEndpoint: stuck.URL, OTLPRetry: -1, Buffer: buffer})
	tr := tel.TracerProvider().Tracer("test")
	_, first := tr.Start(context.Background(), "first")
	first.End()
	<-entered // the exporter is now stuck on the first batch

	const n = 1000
	for i := range n {
		_, sp := tr.Start(context.Background(), "later", trace.WithAttributes(attribute.Int("i", i)))
		sp.End()
	}
	require.Equal(t, float64(n-buffer), counter(t, reg, "strata_spans_dropped_total", "otlp"))

	close(release)
	require.NoError(t, tel.Shutdown(context.Background()))
	require.Equal(t, float64(1+buffer), counter(t, reg, "strata_spans_exported_total", "otlp"))
	require.Len(t, r.spans, 1+buffer)
}

func openStore(t testing.TB) *sqlite.Store {
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// gatedTraces is the real store with SpanInsert held at a gate.
type gatedTraces struct {
	store.Traces
	entered chan struct{}
	gate    chan struct{}
}

func (g gatedTraces) SpanInsert(ctx context.Context, spans []store.Span) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.gate
	return g.Traces.SpanInsert(ctx, spans)
}

func TestStoreExporter(t *testing.T) {
	s := openStore(t)
	tel, reg := start(t, Config{SampleRatio: 1, Store: s})
	request(tel.TracerProvider(), strings.Repeat("é", 10_000)) // two bytes a rune: cut between runes
	require.NoError(t, tel.Flush(context.Background()))
	require.Equal(t, 2.0, counter(t, reg, "strata_spans_exported_total", "store"))

	ts, err := s.TraceList(context.Background(), store.TraceListParams{Project: "shop", Function: "hello"})
	require.NoError(t, err)
	require.Len(t, ts, 1)
	require.Equal(t, "GET /hello", ts[0].Name)
	require.Equal(t, 2, ts[0].Spans)
	spans, err := s.TraceGet(context.Background(), ts[0].TraceID, "shop")
	require.NoError(t, err)
	require.Len(t, spans, 2)
	parent, child := spans[0], spans[1]
	require.Equal(t, "server", parent.Kind)
	require.Equal(t, parent.SpanID, child.ParentID)
	require.Equal(t, "hello", child.Function)
	require.Equal(t, "3", child.Attributes["strata.version"])
	require.LessOrEqual(t, len(child.Attributes["big"]), DefaultMaxAttrLength)
	require.Greater(t, len(child.Attributes["big"]), DefaultMaxAttrLength-2)
	require.True(t, strings.HasPrefix(child.Attributes["big"], "éé"))
	require.Equal(t, strings.Repeat("é", len(child.Attributes["big"])/2), child.Attributes["big"], "valid UTF-8 after the cut")
}

func TestStoreExporterFullBufferDropsWithoutBlocking(t *testing.T) {
	g := gatedTraces{Traces: openStore(t), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	released := false
	t.Cleanup(func() {
		if !released {
			close(g.gate)
		}
	})
	const buffer = 16
	tel, reg := start(t, Config{SampleRatio: 1, Store: g, Buffer: buffer})
	tr := tel.TracerProvider().Tracer("test")
	_, first := tr.Start(context.Background(), "first")
	first.End()
	<-g.entered // the writer is held with one span

	const n = 500
	for range n {
		_, sp := tr.Start(context.Background(), "later")
		sp.End()
	}
	require.Equal(t, float64(n-buffer), counter(t, reg, "strata_spans_dropped_total", "store"))

	close(g.gate)
	released = true
	require.NoError(t, tel.Shutdown(context.Background()))
	require.Equal(t, float64(1+buffer), counter(t, reg, "strata_spans_exported_total", "store"))
}

// At a sample ratio that keeps (almost) nothing, a request whose entry
// span ends in error is kept; one that succeeds is not, and the children
// of an unsampled trace are not recorded at all. A caller's sampled
// traceparent keeps the whole trace; an unsampled one still has its entry
// span's error kept.
func TestErrorsAlwaysKept(t *testing.T) {
	s := openStore(t)
	tel, _ := start(t, Config{SampleRatio: 1e-12, Store: s})
	tr := tel.TracerProvider().Tracer("test")
	ctx := context.Background()

	rctx, root := tr.Start(ctx, "GET /fails", trace.WithAttributes(attribute.String(AttrProject, "shop")))
	require.False(t, root.SpanContext().IsSampled())
	require.True(t, root.IsRecording(), "the entry span of an unsampled trace is recorded")
	_, child := tr.Start(rctx, "invoke")
	require.False(t, child.IsRecording(), "its children are not")
	child.SetStatus(codes.Error, "ignored")
	child.End()
	root.SetStatus(codes.Error, "function failed")
	root.End()

	_, quiet := tr.Start(ctx, "GET /fine")
	quiet.End()

	sampled := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	jctx, joined := tr.Start(sampled, "GET /joined")
	_, jchild := tr.Start(jctx, "invoke joined")
	jchild.End()
	joined.End()

	unsampled := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})
	_, remoteFail := tr.Start(unsampled, "GET /remote-fails")
	remoteFail.SetStatus(codes.Error, "boom")
	remoteFail.End()
	other := propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": "00-6bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})
	_, remoteOK := tr.Start(other, "GET /remote-fine")
	remoteOK.End()

	require.NoError(t, tel.Flush(ctx))
	ts, err := s.TraceList(ctx, store.TraceListParams{})
	require.NoError(t, err)
	got := map[string]int{}
	for _, tr := range ts {
		got[tr.Name] = tr.Spans
	}
	require.Equal(t, map[string]int{"GET /fails": 1, "GET /joined": 2, "GET /remote-fails": 1}, got)
	spans, err := s.TraceGet(ctx, root.SpanContext().TraceID().String(), "shop")
	require.NoError(t, err)
	require.Equal(t, "error", spans[0].Status)
	require.Equal(t, "function failed", spans[0].StatusMessage)
}

// The trace store at its cap keeps the newest spans.
func TestTraceStoreCap(t *testing.T) {
	s := openStore(t)
	tel, _ := start(t, Config{SampleRatio: 1, Store: s, MaxSpans: 30, pruneEvery: time.Hour})
	tr := tel.TracerProvider().Tracer("test")
	base := time.Now().Add(-time.Minute)
	for i := range 80 {
		_, sp := tr.Start(context.Background(), "span", trace.WithTimestamp(base.Add(time.Duration(i)*time.Millisecond)),
			trace.WithAttributes(attribute.Int("i", i)))
		sp.End()
	}
	require.NoError(t, tel.Flush(context.Background()))
	tel.pruner.prune(context.Background(), time.Now())

	ts, err := s.TraceList(context.Background(), store.TraceListParams{Limit: 1000})
	require.NoError(t, err)
	require.Len(t, ts, 30)
	for i, tr := range ts {
		spans, err := s.TraceGet(context.Background(), tr.TraceID, "")
		require.NoError(t, err)
		require.Equal(t, itoa(79-i), spans[0].Attributes["i"], "newest first, the oldest evicted")
	}
}

func itoa(i int) string { return attribute.IntValue(i).String() }

func TestConfigErrors(t *testing.T) {
	_, err := New(context.Background(), Config{SampleRatio: 2})
	require.ErrorContains(t, err, "sample ratio")
	_, err = New(context.Background(), Config{OTLPEndpoint: "collector:4317"})
	require.ErrorContains(t, err, "want http://host:port")
	_, err = New(context.Background(), Config{OTLPEndpoint: "http://127.0.0.1:1", OTLPProtocol: "thrift"})
	require.ErrorContains(t, err, "otlp protocol")
}
