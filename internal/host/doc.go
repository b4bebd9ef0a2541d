// Package host is the environment one invocation's host calls run in:
// Call says which invocation is calling (function, project, version, its
// configuration with the bindings it declared, deadline, trace) and, for
// an invocation that runs for a workflow, the Workflow work it does (an
// orchestrator pass or an activity attempt). The invoker creates one Call
// per invocation; the runtime hands it, as an argument, to every
// host-call handler (bindings, events, workflows), which scope what the
// guest may reach by it: a function reaches only its own project.
//
// It exists so that this state travels as an explicit argument instead
// of as context values set in one layer and read in another: a handler's
// signature says what it acts for, and a call without a Call is a
// compile error rather than a missing value at run time. It is a leaf
// (record and wire only), so that handlers need not import the runtime
// nor the runtime the handlers.
package host
