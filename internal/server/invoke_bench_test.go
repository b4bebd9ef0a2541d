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
