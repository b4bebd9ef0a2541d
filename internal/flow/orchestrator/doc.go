// Package orchestrator runs workflows written as code: Wasm orchestrators built
// with the Go SDK (sdk/go/flow), replayed against their execution's
// history by the flow core. It has two halves: Orchestrator invokes the
// orchestrator function for one pass, and Host answers the flow host
// calls (binding_call op 5) guests make: an orchestrator's commands, an
// activity's heartbeats, and any function starting or signalling a
// workflow, which reaches only its own project's workflows and
// executions.
package orchestrator
