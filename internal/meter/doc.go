// Package meter is what invocations cost and where their records go: the
// Meter batches usage records and guest log lines into the store in the
// background (an invocation never waits on a database write, and the
// bounded queue pushes back rather than drop what users are billed on),
// and Summarize turns usage records into per-function totals, latency
// percentiles and a cost estimate at given Prices (AWS Lambda's list
// prices by default, so users compare like for like). BilledMS is the one
// billing rule.
//
// It is separate from internal/invoke because billing is read by more
// than the pipeline that writes it: the admin API's usage report and the
// configuration's prices depend on it, and neither should depend on how
// an invocation runs. It does not decide what an invocation's usage
// record says (the invocation pipeline fills it in), nor store or expire
// records (package store, and the server's retention loop).
package meter
