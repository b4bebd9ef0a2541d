// Package strata is the Go guest SDK for Strata functions.
//
// A function is an ordinary net/http handler compiled to WebAssembly as a
// WASI reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o fn.wasm .
//
// and registered from an init function:
//
//	func init() {
//		strata.HandleFunc(func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprintf(w, "hello %s\n", r.PathValue("name"))
//		})
//	}
//	func main() {} // a reactor never runs main
//
// A function has one handler: HandleHTTP, HandleFunc, HandleEvent,
// HandleBatch or Lambda, called once (a second registration panics and
// names both places). Serve several paths with one http.ServeMux.
//
// The request's context carries the invocation's deadline; its Done
// closes, with context.DeadlineExceeded, shortly before the host stops
// the guest, so code waiting on it can still answer.
//
// The package owns the guest half of the strata_v1 ABI (docs/ABI.md): the
// exported strata_handle entry point, the imports of the strata_v1 host
// module, and the conversion between the wire format (package wire) and
// net/http types. It does not own routing (the gateway matches routes and
// passes path parameters, which reach the handler through r.PathValue) or
// the host side of the ABI (internal/wasm).
//
// The SDK uses only the standard library, so it can be vendored into the
// strata binary and wired into user projects with a replace directive.
//
// Per-request work is kept small on purpose: the request is built directly
// (no URL re-parsing beyond the query), the ResponseWriter buffers into a
// buffer reused across invocations, and no goroutine is started. Standard
// output and standard error are the invocation's logs.
package strata
