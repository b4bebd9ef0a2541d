// Package metrics owns the Prometheus metrics of a Strata node: the
// invocation counters and duration histograms the invoker feeds as each
// invocation finishes, and the collectors that read pools and the store
// when Prometheus scrapes. It does not serve them: the server mounts
// promhttp on its registry (behind a read token on the admin API, or on
// --metrics-addr).
//
// Labels are bounded by what is deployed: project, function, trigger and
// outcome, never an invocation id, a version or a request path.
package metrics
