// Package invoke is the invocation pipeline: it runs one invocation end
// to end on the version the registry (internal/registry) says serves the
// function: admission, trace context (internal/trace), deadline, the
// pool's warm or cold instance, the guest's logs and the invocation's
// usage record, which it hands to the meter (internal/meter).
//
// It admits invocations against the node's limits: the node-wide
// concurrency cap and each project's share of it (so one project cannot
// take the node). The limits pools enforce themselves (a function's
// max_concurrency clamped to the project's share, the node's instance
// memory budget, pool.Budget) come from the same Config, PoolLimits, so
// both agree.
//
// The predicates of errors.go (IsThrottled, IsTimeout, IsLoading,
// IsNoFunction, ...) are the one place that says what a failed invocation
// means. They live here, not in a package of their own, because every
// caller that branches on them (the gateway's status mapping, queue
// delivery, workflow steps) is a caller of Invoke already, and this
// package is where the errors of the layers below (pool, wasm) meet: the
// callers need not import those layers to read an error.
//
// It does not know about HTTP routes (the gateway does), deploy plans
// (the admin API applies those; the registry follows the store), nor
// which versions exist (the registry).
package invoke
