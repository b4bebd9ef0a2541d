package server

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/wasm/wasmtest"
)

// BenchmarkHandleHTTP measures the warm path a user's request takes: an
// HTTP request over loopback to the gateway, route match, the invocation
// pipeline and a warm hello instance, and the answer back. It is the
// number the whole node adds around BenchmarkInvoke (internal/invoke).
func BenchmarkHandleHTTP(b *testing.B) {
	ctx := context.Background()
	srv, c, sha := benchNode(b, wasmtest.Guest(b, wasmtest.Hello))
	fc := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 1}
	spec := apitype.Spec{Project: "bench",
		Functions: []apitype.FunctionSpec{{Name: "hello", ModuleSHA256: sha, Config: fc, Routes: []apitype.RouteSpec{{Method: "GET", Path: "/hello"}}}}}
	if _, err := c.Deploy(ctx, spec, false); err != nil {
		b.Fatal(err)
	}
	hc := &http.Client{}
	url := srv.URL() + "/hello?name=world"
	get := func() {
		resp, err := hc.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /hello: %d", resp.StatusCode)
		}
	}
	get() // the cold start
	b.ReportAllocs()
	for b.Loop() {
		get()
	}
}

// BenchmarkGatewayWarm drives a warm GET /hello/world through the node's
// gateway in process: route match, the invocation pipeline (admission,
// deadline, metering), the pool and a warm instance of the greet guest
// (examples/hello's handler), and the response written. No socket and no
// net/http server parsing: allocs/op is what Strata itself allocates per
// warm request on the host. The guest's own allocations live in its linear
// memory (a []byte wazero holds), not in the Go heap, so they are not
// counted; sdk/go's BenchmarkServeHello counts them natively.
func BenchmarkGatewayWarm(b *testing.B) {
	ctx := context.Background()
	srv, c, sha := benchNode(b, wasmtest.BuildGuest(b, "testdata/greet"))
	fc := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 1}
	spec := apitype.Spec{Project: "bench",
		Functions: []apitype.FunctionSpec{{Name: "hello", ModuleSHA256: sha, Config: fc,
			Routes: []apitype.RouteSpec{{Method: "GET", Path: "/hello/{name}"}}}}}
	if _, err := c.Deploy(ctx, spec, false); err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://127.0.0.1/hello/world", http.NoBody)
	if err != nil {
		b.Fatal(err)
	}
	// What wrk sends, with a context that can end, as a server's is.
	req.Header = http.Header{"Host": {"127.0.0.1:8080"}}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req = req.WithContext(rctx)
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{}}
	serve := func() {
		clear(w.h)
		w.status = 0
		srv.gw.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("GET /hello/world: %d", w.status)
		}
	}
	for range 100 { // the cold start, then the guest's buffers warm
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}

// discardWriter is a ResponseWriter that keeps the status and drops the
// body, reused across requests as net/http reuses its own per connection.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}

// BenchmarkGatewayWarmLambda is BenchmarkGatewayWarm for a function with
// events: lambda: the request becomes an API Gateway 2.0 event and the
// guest's structured response (status 201, cookies, a JSON body) becomes
// the answer. The difference to BenchmarkGatewayWarm is the cost of the
// Lambda shapes (with the test guest's own JSON work, which is heavier
// than greet's).
func BenchmarkGatewayWarmLambda(b *testing.B) {
	ctx := context.Background()
	srv, c, sha := benchNode(b, wasmtest.BuildGuest(b, "testdata/lambda"))
	fc := record.FunctionConfig{Kind: record.KindReactor, MemoryMB: 64, TimeoutMS: 5000, MaxConcurrency: 1, Events: record.EventsLambda}
	spec := apitype.Spec{Project: "bench",
		Functions: []apitype.FunctionSpec{{Name: "api", ModuleSHA256: sha, Config: fc,
			Routes: []apitype.RouteSpec{{Method: "GET", Path: "/users/{id}"}}}}}
	if _, err := c.Deploy(ctx, spec, false); err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://127.0.0.1/users/42", http.NoBody)
	if err != nil {
		b.Fatal(err)
	}
	req.Header = http.Header{"Host": {"127.0.0.1:8080"}}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req = req.WithContext(rctx)
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{}}
	serve := func() {
		clear(w.h)
		w.status = 0
		srv.gw.ServeHTTP(w, req)
		if w.status != http.StatusCreated {
			b.Fatalf("GET /users/42: %d", w.status)
		}
	}
	for range 100 {
		serve()
	}
	b.ReportAllocs()
	for b.Loop() {
		serve()
	}
}
