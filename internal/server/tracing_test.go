package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/client"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/events"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// tracedNode is a real server whose spans land in an in-memory recorder
// (every span sampled).
func tracedNode(t *testing.T) (*node, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.CacheDir = wasmtest.SharedCacheDir()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), WithTracerProvider(tp))
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	tok, err := srv.EnsureAdminToken(context.Background())
	require.NoError(t, err)
	return &node{srv: srv, url: srv.URL(), c: client.New(srv.URL(), tok)}, rec
}

func upload(t *testing.T, c *client.Client, bin []byte) string {
	t.Helper()
	sum := sha256.Sum256(bin)
	sha := hex.EncodeToString(sum[:])
	_, err := c.UploadBlob(context.Background(), sha, bin)
	require.NoError(t, err)
	return sha
}

// getWith is a GET of url with a traceparent header (none when "").
func getWith(t *testing.T, url, traceparent string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	if traceparent != "" {
		req.Header.Set("Traceparent", traceparent)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func attrOf(s sdktrace.ReadOnlySpan, k attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func str(s sdktrace.ReadOnlySpan, k attribute.Key) string {
	v, _ := attrOf(s, k)
	return v.AsString()
}

func num(s sdktrace.ReadOnlySpan, k attribute.Key) int64 {
	v, _ := attrOf(s, k)
	return v.AsInt64()
}

// spansNamed are the ended spans called name.
func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// waitSpans waits until ok holds of the ended spans.
func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, what string, ok func([]sdktrace.ReadOnlySpan) bool) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ended := rec.Ended()
		if ok(ended) {
			return ended
		}
		if time.Now().After(deadline) {
			var names []string
			for _, s := range ended {
				names = append(names, s.Name())
			}
			t.Fatalf("timed out waiting for %s; spans ended: %v", what, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"

// One request to a route that enqueues a message, whose consumer starts a
// 20-step workflow, is one trace: every span the node records shares the
// caller's trace id, every parent is a recorded span (the gateway's is
// the caller's), and each step has its span, the parent of the step's
// invocation.
func TestTraceRouteQueueWorkflow(t *testing.T) {
	n, rec := tracedNode(t)
	ctx := context.Background()
	sender := upload(t, n.c, wasmtest.Guest(t, wasmtest.Sender))
	starter := upload(t, n.c, wasmtest.BuildGuest(t, "testdata/startflow"))
	greeter := upload(t, n.c, wasmtest.BuildGuest(t, "../../sdk/go/flow/testdata/guest"))
	flows := cfgOf(record.KindReactor)
	flows.TimeoutMS = 60_000
	flows.Workflows = []record.WorkflowConfig{{Name: "count"}}
	_, err := n.c.Deploy(ctx, apitype.Spec{
		Project: "tr",
		Queues:  []apitype.QueueSpec{{Name: "jobs", VisibilityTimeoutMS: 30_000, MaxReceives: 3}},
		Functions: []apitype.FunctionSpec{
			{Name: "web", ModuleSHA256: sender, Config: cfgOf(record.KindReactor), Routes: routes("GET /enqueue/{id}")},
			{Name: "starter", ModuleSHA256: starter, Config: cfgOf(record.KindReactor), Queue: &apitype.QueueTrigger{Name: "jobs", BatchSize: 1}},
			{Name: "greeter", ModuleSHA256: greeter, Config: flows},
		},
	}, false)
	require.NoError(t, err)
	<-n.srv.Loaded()

	incoming := "00-" + incomingTrace + "-00f067aa0ba902b7-01"
	code, h, body := getWith(t, n.url+"/enqueue/42?kind=queue&name=jobs&body=20", incoming)
	require.Equal(t, 200, code, body)
	eventID := strings.TrimPrefix(body, "id=")

	// The execution completes, then its run span ends.
	deadline := time.Now().Add(60 * time.Second)
	for {
		ex, err := n.c.Execution(ctx, "job-"+eventID)
		if err == nil && ex.Status == record.FlowCompleted {
			assert.Equal(t, incomingTrace, ex.TraceID, "the execution's trace")
			break
		}
		require.True(t, time.Now().Before(deadline), "execution job-%s did not complete: %+v %v", eventID, ex, err)
		time.Sleep(50 * time.Millisecond)
	}
	ended := waitSpans(t, rec, "the workflow run span", func(ss []sdktrace.ReadOnlySpan) bool {
		for _, s := range ss {
			if s.Name() == flow.SpanRun {
				return true
			}
		}
		return false
	})

	byID := map[oteltrace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
	}
	// One trace, every parent recorded.
	for _, s := range ended {
		require.Equal(t, incomingTrace, s.SpanContext().TraceID().String(), "span %q is in another trace", s.Name())
		p := s.Parent()
		if p.SpanID().String() == "00f067aa0ba902b7" {
			require.True(t, p.IsRemote())
			continue
		}
		_, ok := byID[p.SpanID()]
		require.True(t, ok, "span %q: parent %s was not recorded", s.Name(), p.SpanID())
		assert.NotEmpty(t, str(s, trace.KeyProject), "span %q has no project", s.Name())
		assert.Equal(t, "tr", str(s, trace.KeyProject), "span %q", s.Name())
	}
	parentOf := func(s sdktrace.ReadOnlySpan) sdktrace.ReadOnlySpan { return byID[s.Parent().SpanID()] }
	one := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		ss := spansNamed(rec, name)
		require.Len(t, ss, 1, "spans named %q", name)
		return ss[0]
	}

	// The chain: request → web → queue send → delivery → starter →
	// workflow start → run → steps → greeter.
	gw := one("GET /enqueue/{id}")
	assert.Equal(t, oteltrace.SpanKindServer, gw.SpanKind())
	assert.Equal(t, "/enqueue/{id}", str(gw, trace.KeyRoute))
	assert.Equal(t, int64(200), num(gw, trace.KeyHTTP))
	web := one("web")
	assert.Equal(t, gw.SpanContext().SpanID(), web.Parent().SpanID())
	// The invocation's span id is the one the caller got back.
	assert.Equal(t, "00-"+incomingTrace+"-"+web.SpanContext().SpanID().String()+"-01", h.Get("Traceparent"))
	assert.Equal(t, "web", str(web, trace.KeyFunction))
	assert.Equal(t, "http", str(web, trace.KeyTrigger))
	assert.Equal(t, "ok", str(web, trace.KeyOutcome))
	assert.Equal(t, int64(64), num(web, trace.KeyMemoryMB))
	assert.Equal(t, h.Get(apitype.HeaderInvocationID), str(web, trace.KeyInvocationID))
	_, hasCold := attrOf(web, trace.KeyColdStart)
	assert.True(t, hasCold)
	send := one(wasm.SpanQueueSend)
	assert.Equal(t, web.SpanContext().SpanID(), send.Parent().SpanID())
	assert.Equal(t, oteltrace.SpanKindProducer, send.SpanKind())
	assert.Equal(t, eventID, str(send, trace.KeyEventID))
	deliver := one(events.SpanDeliver)
	assert.Equal(t, send.SpanContext().SpanID(), deliver.Parent().SpanID())
	assert.Equal(t, oteltrace.SpanKindConsumer, deliver.SpanKind())
	assert.Equal(t, int64(1), num(deliver, trace.KeyAttempt))
	assert.Equal(t, "jobs", str(deliver, trace.KeyQueue))
	st := one("starter")
	assert.Equal(t, deliver.SpanContext().SpanID(), st.Parent().SpanID())
	assert.Equal(t, "queue", str(st, trace.KeyTrigger))
	start := one(flow.SpanStart)
	assert.Equal(t, st.SpanContext().SpanID(), start.Parent().SpanID())
	run := one(flow.SpanRun)
	assert.Equal(t, start.SpanContext().SpanID(), run.Parent().SpanID())
	assert.Equal(t, "job-"+eventID, str(run, trace.KeyExecutionID))

	steps := spansNamed(rec, flow.SpanStep)
	require.Len(t, steps, 20, "one span per step")
	seen := map[int64]bool{}
	for _, s := range steps {
		assert.Equal(t, run.SpanContext().SpanID(), s.Parent().SpanID())
		assert.Equal(t, int64(1), num(s, trace.KeyAttempt))
		seen[num(s, trace.KeyStep)] = true
	}
	assert.Len(t, seen, 20, "steps numbered apart")
	var activities, passes int
	for _, s := range spansNamed(rec, "greeter") {
		switch p := parentOf(s); p.Name() {
		case flow.SpanStep:
			activities++
		case flow.SpanRun:
			passes++ // orchestrator passes
		default:
			t.Errorf("greeter invocation under %q", p.Name())
		}
		assert.Equal(t, "workflow", str(s, trace.KeyTrigger))
	}
	assert.Equal(t, 20, activities, "an invocation under each step")
	assert.GreaterOrEqual(t, passes, 1)
	// A cold start is a child of the invocation that waited for it.
	for _, c := range spansNamed(rec, pool.SpanColdStart) {
		p := parentOf(c)
		require.NotNil(t, p)
		assert.Equal(t, str(p, trace.KeyFunction), str(c, trace.KeyFunction))
		assert.True(t, func() bool { v, _ := attrOf(p, trace.KeyColdStart); return v.AsBool() }(), "the parent of a cold start says cold")
	}
	assert.NotEmpty(t, spansNamed(rec, pool.SpanColdStart))
}

// Host calls are spans with what they did and never what they read: the
// SQL statement's first words and row count, the fetch's host and status,
// a secret's name (its value nowhere).
func TestTraceHostCalls(t *testing.T) {
	n, rec := tracedNode(t)
	ctx := context.Background()
	gotTraceparent := make(chan string, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotTraceparent <- r.Header.Get("Traceparent")
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(upstream.Close)
	upstreamHost := strings.TrimPrefix(upstream.URL, "http://")
	sha := upload(t, n.c, wasmtest.Guest(t, wasmtest.Binder))
	c := cfgOf(record.KindReactor)
	c.Bindings = []record.Binding{{Name: "db", Kind: record.BindingSQL, Resource: "appdb"}, {Name: "cache", Kind: record.BindingKV, Resource: "appcache"}}
	c.Secrets, c.Fetch, c.FetchPrivate = []string{"API_KEY"}, []string{upstreamHost}, true
	_, err := n.c.Deploy(ctx, apitype.Spec{
		Project:   "hc",
		Databases: []apitype.DatabaseSpec{{Name: "appdb", Engine: record.EngineSQLite, MaxConnections: 2}},
		KV:        []apitype.KVSpec{{Name: "appcache"}},
		Secrets:   []string{"API_KEY"},
		Functions: []apitype.FunctionSpec{{Name: "binder", ModuleSHA256: sha, Config: c, Routes: routes("GET /b")}},
	}, false)
	require.NoError(t, err)
	_, err = n.c.Migrate(ctx, "appdb", []apitype.Migration{{Name: "0001.sql", SQL: `CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`}})
	require.NoError(t, err)
	require.NoError(t, n.c.SecretSet(ctx, "hc", "API_KEY", []byte("s3cr3t-value")))
	<-n.srv.Loaded()

	call := func(q url.Values) string {
		t.Helper()
		code, _, body := getWith(t, n.url+"/b?"+q.Encode(), "")
		require.Equal(t, 200, code, body)
		return body
	}
	call(url.Values{"op": {"sql-exec"}, "sql": {"  insert into items (name) VALUES ($1), ($2)"}, "arg": {"s:a", "s:b"}})
	call(url.Values{"op": {"sql-query"}, "sql": {"/* all */ SELECT name FROM items"}})
	call(url.Values{"op": {"kv-put"}, "key": {"user/1"}, "value": {"ann"}})
	call(url.Values{"op": {"kv-get"}, "key": {"user/1"}})
	call(url.Values{"op": {"secret"}, "name": {"API_KEY"}})
	call(url.Values{"op": {"fetch"}, "url": {upstream.URL + "/private/path?token=abc"}})

	ended := waitSpans(t, rec, "six host-call spans", func(ss []sdktrace.ReadOnlySpan) bool {
		n := 0
		for _, s := range ss {
			if s.SpanKind() == oteltrace.SpanKindClient || s.Name() == wasm.SpanSecret {
				n++
			}
		}
		return n >= 6
	})
	byID := map[oteltrace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range ended {
		for _, kv := range s.Attributes() {
			assert.NotContains(t, kv.Value.String(), "s3cr3t", "span %q attribute %s holds the secret", s.Name(), kv.Key)
			assert.NotContains(t, kv.Value.String(), "token=abc", "span %q attribute %s holds the fetch's query", s.Name(), kv.Key)
		}
	}
	hostSpan := func(name string) sdktrace.ReadOnlySpan {
		t.Helper()
		ss := spansNamed(rec, name)
		require.Len(t, ss, 1, name)
		s := ss[0]
		assert.Equal(t, "hc", str(s, trace.KeyProject))
		assert.Equal(t, "binder", str(s, trace.KeyFunction))
		assert.Equal(t, "binder", byID[s.Parent().SpanID()].Name(), "a host call's parent is its invocation")
		return s
	}
	var insert, sel sdktrace.ReadOnlySpan
	for _, s := range spansNamed(rec, wasm.SpanSQL) {
		switch str(s, trace.KeySQLOp) {
		case "INSERT INTO":
			insert = s
		case "SELECT":
			sel = s
		}
	}
	require.NotNil(t, insert, "INSERT INTO span")
	require.NotNil(t, sel, "SELECT span")
	assert.Equal(t, int64(2), num(insert, trace.KeySQLRows))
	assert.Equal(t, int64(2), num(sel, trace.KeySQLRows))
	assert.Equal(t, "db", str(sel, trace.KeyBinding))
	assert.Equal(t, "put", str(hostSpan(wasm.SpanKVPut), trace.KeyKVOp))
	get := hostSpan(wasm.SpanKVGet)
	found, _ := attrOf(get, trace.KeyKVFound)
	assert.True(t, found.AsBool())
	assert.Equal(t, "API_KEY", str(hostSpan(wasm.SpanSecret), trace.KeySecret))
	fetch := hostSpan(wasm.SpanFetch)
	assert.Equal(t, upstreamHost, str(fetch, trace.KeyHost))
	assert.Equal(t, int64(http.StatusTeapot), num(fetch, trace.KeyHTTP))
	// The server called continues the trace under the fetch's span.
	assert.Equal(t, "00-"+fetch.SpanContext().TraceID().String()+"-"+fetch.SpanContext().SpanID().String()+"-01", <-gotTraceparent)
}

// A malformed traceparent starts a new trace (and is never continued); a
// valid one is continued.
func TestTraceMalformedTraceparent(t *testing.T) {
	n, rec := tracedNode(t)
	sha := upload(t, n.c, wasmtest.Guest(t, wasmtest.Hello))
	_, err := n.c.Deploy(context.Background(), apitype.Spec{Project: "mt", Functions: []apitype.FunctionSpec{
		{Name: "hello", ModuleSHA256: sha, Config: cfgOf(record.KindReactor), Routes: routes("GET /hello/{name}")}}}, false)
	require.NoError(t, err)
	<-n.srv.Loaded()
	for _, tc := range []struct {
		name, header string
		continued    bool
	}{
		{"valid", "00-" + incomingTrace + "-00f067aa0ba902b7-01", true},
		{"absent", "", false},
		{"uppercase", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false},
		{"zero trace", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"short", "00-" + incomingTrace + "-00f067aa0ba902b7", false},
		{"garbage", "not a traceparent at all", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(spansNamed(rec, "GET /hello/{name}"))
			code, h, body := getWith(t, n.url+"/hello/7", tc.header)
			require.Equal(t, 200, code, body)
			waitSpans(t, rec, "the request span", func([]sdktrace.ReadOnlySpan) bool {
				return len(spansNamed(rec, "GET /hello/{name}")) > before
			})
			gw := spansNamed(rec, "GET /hello/{name}")[before]
			back, ok := trace.SpanContextOf(h.Get("Traceparent"))
			require.True(t, ok, "answered traceparent %q", h.Get("Traceparent"))
			assert.Equal(t, gw.SpanContext().TraceID(), back.TraceID(), "the answer is in the request's trace")
			if tc.continued {
				assert.Equal(t, incomingTrace, gw.SpanContext().TraceID().String())
				assert.Equal(t, "00f067aa0ba902b7", gw.Parent().SpanID().String())
				return
			}
			assert.False(t, gw.Parent().IsValid(), "a new trace has no parent")
			assert.NotEqual(t, incomingTrace, strings.ToLower(gw.SpanContext().TraceID().String()))
		})
	}
}

// Each delivery of a failing message is its own span in the sender's
// trace, with its attempt number and status Error.
func TestTraceRetries(t *testing.T) {
	n, rec := tracedNode(t)
	ctx := context.Background()
	sender := upload(t, n.c, wasmtest.Guest(t, wasmtest.Sender))
	panics := upload(t, n.c, wasmtest.Guest(t, wasmtest.Panic))
	_, err := n.c.Deploy(ctx, apitype.Spec{
		Project: "rt",
		Queues:  []apitype.QueueSpec{{Name: "doomed", VisibilityTimeoutMS: 1000, MaxReceives: 3}},
		Functions: []apitype.FunctionSpec{
			{Name: "web", ModuleSHA256: sender, Config: cfgOf(record.KindReactor), Routes: routes("GET /send")},
			{Name: "crasher", ModuleSHA256: panics, Config: cfgOf(record.KindReactor), Queue: &apitype.QueueTrigger{Name: "doomed", BatchSize: 1}},
		},
	}, false)
	require.NoError(t, err)
	<-n.srv.Loaded()
	code, _, body := getWith(t, n.url+"/send?kind=queue&name=doomed&body=x", "")
	require.Equal(t, 200, code, body)

	waitSpans(t, rec, "three deliveries", func([]sdktrace.ReadOnlySpan) bool { return len(spansNamed(rec, events.SpanDeliver)) >= 3 })
	send := spansNamed(rec, wasm.SpanQueueSend)
	require.Len(t, send, 1)
	attempts := map[int64]bool{}
	for _, d := range spansNamed(rec, events.SpanDeliver) {
		assert.Equal(t, send[0].SpanContext().TraceID(), d.SpanContext().TraceID(), "a retry joins the sender's trace")
		assert.Equal(t, send[0].SpanContext().SpanID(), d.Parent().SpanID())
		assert.Equal(t, codes.Error, d.Status().Code)
		assert.NotEmpty(t, d.Status().Description)
		assert.Equal(t, "crasher", str(d, trace.KeyFunction))
		attempts[num(d, trace.KeyAttempt)] = true
	}
	assert.Equal(t, map[int64]bool{1: true, 2: true, 3: true}, attempts)
	for _, s := range spansNamed(rec, "crasher") {
		assert.Equal(t, codes.Error, s.Status().Code, "a failed invocation's span")
		assert.Equal(t, "error", str(s, trace.KeyOutcome))
	}
}

// A workflow started by a route, with a durable timer and two child
// workflows, and an async route's invocation, stay in the request's
// trace: the children's starts are children of the parent's orchestrator
// pass, the timer a span of the parent's run, the async invocation a
// child of its delivery, itself a child of the request.
func TestTraceChildWorkflowsTimersAsync(t *testing.T) {
	n, rec := tracedNode(t)
	ctx := context.Background()
	greeter := upload(t, n.c, wasmtest.BuildGuest(t, "../../sdk/go/flow/testdata/guest"))
	hello := upload(t, n.c, wasmtest.Guest(t, wasmtest.Hello))
	flows := cfgOf(record.KindReactor)
	flows.TimeoutMS = 60_000
	flows.Workflows = []record.WorkflowConfig{{Name: "count"}, {Name: "parent"}}
	_, err := n.c.Deploy(ctx, apitype.Spec{
		Project: "cw",
		Functions: []apitype.FunctionSpec{
			{Name: "greeter", ModuleSHA256: greeter, Config: flows, Routes: []apitype.RouteSpec{{Method: "POST", Path: "/parent", Workflow: "parent"}}},
			{Name: "hello", ModuleSHA256: hello, Config: cfgOf(record.KindReactor), Routes: []apitype.RouteSpec{{Method: "POST", Path: "/later", Async: true}}},
		},
	}, false)
	require.NoError(t, err)
	<-n.srv.Loaded()

	post := func(path, body string) (int, string) {
		req, err := http.NewRequest("POST", n.url+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Traceparent", "00-"+incomingTrace+"-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("/parent", "2")
	require.Equal(t, http.StatusAccepted, code, body)
	code, body = post("/later", "x")
	require.Equal(t, http.StatusAccepted, code, body)

	// Three executions (the parent and its two children) run to the end,
	// and the async invocation runs.
	// A run span ends with each claim of an execution, so three ended
	// runs need not include every child's last step: wait for the steps.
	ended := waitSpans(t, rec, "three workflow runs, five steps and the async invocation", func([]sdktrace.ReadOnlySpan) bool {
		return len(spansNamed(rec, flow.SpanRun)) >= 3 && len(spansNamed(rec, flow.SpanStep)) >= 5 && len(spansNamed(rec, "hello")) >= 1
	})
	byID := map[oteltrace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range ended {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range ended {
		require.Equal(t, incomingTrace, s.SpanContext().TraceID().String(), "span %q is in another trace", s.Name())
	}
	parentOf := func(s sdktrace.ReadOnlySpan) string {
		p, ok := byID[s.Parent().SpanID()]
		if !ok {
			return ""
		}
		return p.Name()
	}

	starts := spansNamed(rec, flow.SpanStart)
	require.Len(t, starts, 3)
	var fromRoute, fromParent int
	for _, s := range starts {
		switch parentOf(s) {
		case "POST /parent":
			fromRoute++
			assert.Equal(t, "parent", str(s, trace.KeyWorkflow))
		case "greeter": // the parent's orchestrator pass
			fromParent++
			assert.Equal(t, "count", str(s, trace.KeyWorkflow))
		default:
			t.Errorf("workflow start under %q", parentOf(s))
		}
	}
	assert.Equal(t, 1, fromRoute)
	assert.Equal(t, 2, fromParent)
	for _, r := range spansNamed(rec, flow.SpanRun) {
		assert.Equal(t, flow.SpanStart, parentOf(r))
	}
	timers := spansNamed(rec, flow.SpanTimer)
	require.Len(t, timers, 1)
	assert.Equal(t, flow.SpanRun, parentOf(timers[0]))
	assert.Equal(t, "parent", str(timers[0], trace.KeyWorkflow))
	assert.GreaterOrEqual(t, timers[0].EndTime().Sub(timers[0].StartTime()), 10*time.Millisecond, "the timer spans its sleep")
	assert.Len(t, spansNamed(rec, flow.SpanStep), 5, "2 + 3 steps of the two children")

	later := spansNamed(rec, "hello")[0]
	assert.Equal(t, "async", str(later, trace.KeyTrigger))
	assert.Equal(t, events.SpanDeliver, parentOf(later))
	deliver := byID[later.Parent().SpanID()]
	assert.Equal(t, "POST /later", parentOf(deliver))
}
