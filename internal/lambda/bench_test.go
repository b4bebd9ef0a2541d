package lambda

import (
	"testing"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// BenchmarkHTTPRoundTrip is the host's cost of the Lambda shapes on a
// route: a request made an API Gateway 2.0 event, and a structured
// response read back.
func BenchmarkHTTPRoundTrip(b *testing.B) {
	req := &wire.Request{Method: "GET", Path: "/users/42", RawQuery: "tag=a", Host: "127.0.0.1:8080", RemoteAddr: "127.0.0.1:40000",
		Headers: []wire.Header{{Name: "User-Agent", Values: []string{"wrk"}}, {Name: "Accept", Values: []string{"*/*"}}},
		Params:  []wire.Param{{Name: "id", Value: "42"}}}
	inv := Invocation{Account: "bench", Function: "api", RequestID: "0193a5f0-7c1e-7000-8000-000000000001", Time: time.Unix(1, 0)}
	result := []byte(`{"statusCode":201,"headers":{"Content-Type":"application/json"},"cookies":["a=1"],"body":"{\"id\":\"42\"}"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := HTTPEventRequest(inv, RouteKey("GET", "/users/{id}"), "HTTP/1.1", req); err != nil {
			b.Fatal(err)
		}
		if _, err := HTTPResponse(result); err != nil {
			b.Fatal(err)
		}
	}
}
