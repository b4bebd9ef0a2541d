// Package wasm runs function code: it is the only package that imports
// wazero.
//
// It owns compilation (with wazero's compilation cache, on disk when
// configured), validation of modules against the strata_v1 ABI, the host
// side of that ABI (docs/ABI.md), instantiation (the cold start), per-call
// limits (memory per wazero runtime, deadline via context, response size)
// and the translation of guest failures into the errors the gateway maps to
// HTTP statuses (ErrTimeout, ErrResponseTooLarge, *TrapError,
// ErrInvalidModule).
//
// Compilation is bounded (budget.go): a module with a function of too many
// control instructions is refused before compiling, a compile is given a
// time budget and stops being waited for when its context ends, at most
// MaxCompiles compiles run at once (abandoned ones included), and the
// _initialize run at Compile has a timeout; over any of them the
// module is refused with ErrOverBudget.
//
// Compile initialises one instance of every module before accepting it
// (initerr.go): an init that panics, traps or runs out of memory is an
// *InitError carrying the guest's own output, so a version whose init
// fails is never deployed. Out-of-memory traps, at init or in a request,
// are reported naming the memory limit.
//
// Deadlines are enforced by interrupt checks that internal/instrument
// writes into each module at compile time (interrupt.go), with wazero's
// WithCloseOnContextDone as the fallback for modules it cannot rewrite.
// A call's CPU-time limit (Env.CPULimit) ends it the same way: the
// guest's goroutine is locked to its OS thread and a per-instance timer
// reads that thread's CPU clock, pausing during host calls that wait
// (cpulimit.go; Linux only, cpuclock_linux.go).
// Reactor cold starts restore a memory snapshot taken at compile time when
// the module allows it (snapshot.go); such a module is compiled once, in
// its data-stripped form. Guest linear memories are mapped
// outside the Go heap and unmapped on Close (linearmem.go).
//
// It does not own instance reuse (internal/pool), concurrency limits,
// retries or metering (internal/invoke), or routing (internal/gateway).
//
// Guests send to queues and publish to topics through strata_v1.event_send
// (events.go); the runtime only moves the bytes to a Config.Events sink,
// which decides what a function may use. Bindings (SQL, KV, fetch,
// secrets) go the same way through strata_v1.binding_call (bindings.go)
// to a Config.Bindings host, and workflow calls to Config.Flow, each
// given the invocation's context (its deadline) and, as an argument, the
// calling invocation (Env.Call, a *host.Call the invoker built).
//
// Two kinds of modules run here. Reactors, built with the Go SDK, are
// instantiated once and called through strata_handle many times, one call
// at a time. Commands (any language, WASI _start) get a fresh instance per
// request and speak CGI over environment, stdin and stdout.
package wasm
