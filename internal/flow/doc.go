// Package flow is Strata's durable execution core: executions with an
// append-only event history, one task per execution claimed under a lease,
// durable timers, buffered signals, child executions, cancellation,
// continue-as-new and retention (docs/workflows.md).
//
// The core does not know how an orchestrator is written. It drives a Run
// (the in-memory state of one execution while a worker holds its lease)
// and asks an Orchestrator to advance it; workflows as code
// (internal/flow/code) replay Wasm orchestrators against the history, and
// the ASL state machines of a later issue plug in the same way.
//
// Durability rule: whatever an orchestrator learns (an activity's result,
// a consumed signal) is committed before the next effect it causes starts
// (another activity, a child, the close); commits of concurrent runs share
// transactions (group commit, internal/batch), so a commit's cost is spread over many
// executions when the store syncs every transaction.
package flow
