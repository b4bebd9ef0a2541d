// Package process runs process functions (kind: process): Node.js, Python
// or custom ("provided") code that speaks AWS Lambda's Runtime API, each
// instance a long-lived process in a bubblewrap sandbox.
//
// A Module is a function version's code, unpacked read-only on the node;
// an Instance is one sandboxed process with its own private Runtime API
// endpoint (a unix socket in a directory only that sandbox sees). The pool
// (internal/pool) keeps Instances exactly as it keeps Wasm instances: one
// invocation at a time, reused warm, replaced when broken (a timeout kills
// the process), reclaimed when idle.
//
// The same socket serves the process's binding calls (bindings.go, under
// /strata/v1): SQL, KV, fetch, secrets, queues and topics, each admitted
// only for the invocation in flight and run with its *host.Call through
// the handlers the Wasm runtime uses (Config.Bindings, Config.Events),
// which own what a function may reach. The bootstraps ship the client
// libraries (require('strata'), import strata).
//
// Invocations arrive already shaped as Lambda events (the invoker's Shaper,
// internal/lambda): the request body is the event, the response body is
// the handler's result. The package does not own deadlines' values,
// metering or logs' storage (internal/invoke), nor event shapes
// (internal/lambda).
package process
