// Package flow is Strata's durable execution core: executions with an
// append-only event history, one task per execution claimed under a lease,
// durable timers, buffered signals, child executions, cancellation,
// continue-as-new and retention (docs/workflows.md).
//
// The core does not know how an orchestrator is written. It drives a Run
// (the in-memory state of one execution while a worker holds its lease)
// and asks an Orchestrator to advance it; workflows as code
// (internal/flow/orchestrator) replay Wasm orchestrators against the history, and
// the ASL state machines of a later issue plug in the same way.
//
// Durability rule: whatever an orchestrator learns (an activity's result,
// a consumed signal) is committed before the next effect it causes starts
// (another activity, a child, the close); commits of concurrent runs share
// transactions (group commit, internal/batch), so a commit's cost is spread over many
// executions when the store syncs every transaction. A new execution's
// first pass runs while its start commits, and its first effect waits for
// that commit.
//
// Isolation rule: an execution belongs to one project and reaches only
// it. Activities and orchestrators run only functions of that project
// (Config.ProjectOf), children are of its workflows, and every method that
// takes an execution id takes the caller's project as an explicit
// argument (AllProjects only for the token-authenticated admin API);
// another project's execution is answered as an unknown one, and a start
// under an id held by another execution gets ErrIDTaken, naming nothing.
package flow
