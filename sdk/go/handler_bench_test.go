package strata

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkServeHello measures the SDK's own share of a warm invocation, built
// natively: decode the request, build the *http.Request and the
// ResponseWriter, run a hello handler (as examples/hello), encode the
// response. In a guest the same code runs in Wasm, where each allocation
// also costs the guest's garbage collector; allocs/op is that count.
func BenchmarkServeHello(b *testing.B) {
	old := handler
	b.Cleanup(func() { handler = old })
	handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%s, %s!\n", "hello", r.PathValue("name"))
	})
	req := wire.AppendRequest(nil, &wire.Request{
		Method: "GET", Path: "/hello/world", Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:40000",
		Headers:      []wire.Header{{Name: "Host", Values: []string{"127.0.0.1:8080"}}},
		Params:       []wire.Param{{Name: "name", Value: "world"}},
		InvocationID: "0193c5a0-0000-7000-8000-000000000000",
		TraceParent:  "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01",
		DeadlineMS:   1_900_000_000_000,
	})
	s := &server{stderr: io.Discard}
	b.ReportAllocs()
	for b.Loop() {
		if _, code := s.serve(req); code != codeOK {
			b.Fatal(code)
		}
	}
}
