// Package invoke is the invocation pipeline: it keeps every function's active
// version compiled with a warm pool, and runs one invocation end to end:
// trace context, deadline, pool (warm or cold instance), guest logs, and the
// usage record. It owns the meter that batches usage records and log lines
// into the store, and the usage report built from them.
//
// After a start, Load brings up the deployed versions several at once, each
// serving as soon as it is ready; until then a function answers ErrLoading
// (503, retry) rather than ErrNoFunction.
//
// It admits invocations against the node's limits: the node-wide
// concurrency cap, each project's share of it (so one project cannot take
// the node), and the node's instance memory budget (pool.Budget).
//
// It does not know about HTTP routes (the gateway does) nor about deploy
// plans (the server applies those and then calls Sync).
package invoke
