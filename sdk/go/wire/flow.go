package wire

import "encoding/json"

// Durable workflows across the ABI (docs/ABI.md, docs/workflows.md).
//
// An orchestrator is invoked like any function, with a POST whose header
// FlowHeader is "orchestrate" and whose body is a FlowTask (JSON). It runs
// the workflow from the start every time: each flow host call
// (binding_call op 5 with a JSON FlowRequest) either answers from the
// execution's history (replay) or records something new. When the host
// answers Suspend, the guest stops running workflow code and answers
// FlowOutcome{Suspended: true}; the host invokes it again later and it
// replays up to where it was.
//
// Activities are ordinary invocations: a POST with the step's input as a
// JSON body and the FlowExecutionHeader, FlowStepHeader, FlowAttemptHeader
// and FlowWorkflowHeader headers set. A 2xx answer's body is the step's
// output (JSON; an empty body is null). Any other answer fails the
// attempt: a JSON body {"error": FlowError} gives the error its type and
// says whether it may be retried; otherwise its type is "HTTP <status>".

// Headers of flow invocations.
const (
	FlowHeader          = "X-Strata-Flow"           // "orchestrate" on orchestrator invocations
	FlowExecutionHeader = "X-Strata-Flow-Execution" // activity: the execution's id
	FlowWorkflowHeader  = "X-Strata-Flow-Workflow"  // activity: the workflow's name
	FlowStepHeader      = "X-Strata-Flow-Step"      // activity: the step number in the execution
	FlowAttemptHeader   = "X-Strata-Flow-Attempt"   // activity: 1 for the first attempt
)

// Flow request ops.
const (
	FlowOpSchedule  = "schedule"  // record (or replay) a command; answers Step (and Value)
	FlowOpAwait     = "await"     // wait until all Steps have results; answers Results
	FlowOpHeartbeat = "heartbeat" // activity: still alive; answers Canceled when it should stop
	FlowOpStart     = "start"     // any function: start a workflow; answers ID, Existed
	FlowOpSignal    = "signal"    // any function: signal an execution
)

// Command kinds of FlowOpSchedule.
const (
	FlowCall    = "call"    // run function Name with Input as an activity
	FlowChild   = "child"   // start workflow Name (execution ID, or one derived) with Input, as a child
	FlowSleep   = "sleep"   // a durable timer of DurationMS
	FlowSignal  = "signal"  // wait for signal Name; DurationMS > 0 is a timeout
	FlowNow     = "now"     // Value: the current time (RFC 3339, nanoseconds), recorded
	FlowRandom  = "random"  // Value: a random uint64, recorded
	FlowUUID    = "uuid"    // Value: a new UUID string, recorded
	FlowVersion = "version" // Value: the version of change Name, in [Min, Max]
)

// FlowRequest is one flow host call.
type FlowRequest struct {
	Op   string `json:"op"`
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
	// Input is the activity's or child's input, or the signal's value.
	Input      json.RawMessage `json:"input,omitempty"`
	DurationMS int64           `json:"duration_ms,omitempty"`
	Retry      *FlowRetry      `json:"retry,omitempty"`
	Timeouts   *FlowTimeouts   `json:"timeouts,omitempty"`
	// ID is a child's or started workflow's execution id (optional), or
	// the execution a signal is for.
	ID       string `json:"id,omitempty"`
	Min      int    `json:"min,omitempty"`
	Max      int    `json:"max,omitempty"`
	Steps    []int  `json:"steps,omitempty"`
	Workflow string `json:"workflow,omitempty"` // start: the workflow's name
	// Details is a heartbeat's progress, kept with the attempt.
	Details json.RawMessage `json:"details,omitempty"`
}

// FlowRetry is an activity's retry policy. Zero fields take the defaults
// (docs/workflows.md).
type FlowRetry struct {
	MaxAttempts   int      `json:"max_attempts,omitempty"`
	InitialMS     int64    `json:"initial_ms,omitempty"`
	Coefficient   float64  `json:"coefficient,omitempty"`
	MaxIntervalMS int64    `json:"max_interval_ms,omitempty"`
	NonRetryable  []string `json:"non_retryable,omitempty"` // error types not retried
}

// FlowTimeouts bound an activity: one attempt (StartToClose), all
// attempts with their waits (ScheduleToClose), the gap between heartbeats.
type FlowTimeouts struct {
	StartToCloseMS    int64 `json:"start_to_close_ms,omitempty"`
	ScheduleToCloseMS int64 `json:"schedule_to_close_ms,omitempty"`
	HeartbeatMS       int64 `json:"heartbeat_ms,omitempty"`
}

// FlowResponse answers a FlowRequest.
type FlowResponse struct {
	Step    int             `json:"step,omitempty"`
	Value   json.RawMessage `json:"value,omitempty"`
	Results []FlowResult    `json:"results,omitempty"`
	// Suspend: stop running workflow code now and answer Suspended.
	Suspend bool `json:"suspend,omitempty"`
	// Canceled: the execution was asked to cancel (reported to one await
	// only, the same one on every replay; later awaits work normally so
	// compensation can run). For a heartbeat: the activity should stop.
	Canceled bool `json:"canceled,omitempty"`
	// Error: the command itself was refused (e.g. a payload over the limit).
	Error   *FlowError `json:"error,omitempty"`
	ID      string     `json:"id,omitempty"`
	Existed bool       `json:"existed,omitempty"`
}

// FlowResult is the result of one step.
type FlowResult struct {
	Step   int             `json:"step"`
	Output json.RawMessage `json:"output,omitempty"`
	Error  *FlowError      `json:"error,omitempty"`
}

// FlowError is an error as workflows see it: from an activity, a child, a
// timeout, a cancellation or the workflow itself.
type FlowError struct {
	Type         string          `json:"type"`
	Message      string          `json:"message"`
	NonRetryable bool            `json:"non_retryable,omitempty"`
	Step         int             `json:"step,omitempty"`
	Name         string          `json:"name,omitempty"` // function or workflow of the step
	Attempts     int             `json:"attempts,omitempty"`
	Details      json.RawMessage `json:"details,omitempty"`
}

// Error types the platform produces.
const (
	FlowErrTimeout          = "Timeout"          // an attempt, a step or a signal wait ran out of time
	FlowErrHeartbeatTimeout = "HeartbeatTimeout" // an activity stopped heartbeating
	FlowErrCanceled         = "Canceled"         // the execution was canceled
	FlowErrNonDeterminism   = "NonDeterminism"   // the code no longer matches the history
	FlowErrHistoryLimit     = "HistoryLimitExceeded"
	FlowErrPayloadTooLarge  = "PayloadTooLarge"
	FlowErrPanic            = "Panic"           // workflow code panicked
	FlowErrUnknown          = "UnknownWorkflow" // the function does not register the workflow
	FlowErrBadInput         = "BadInput"        // input not valid JSON for the declared type
	FlowErrFunction         = "FunctionError"   // the activity trapped, timed out or is missing
)

// FlowTask is the body of an orchestrator invocation.
type FlowTask struct {
	Workflow  string          `json:"workflow"`
	Execution string          `json:"execution"`
	Run       int             `json:"run"`
	Input     json.RawMessage `json:"input,omitempty"`
}

// FlowOutcome is the body an orchestrator answers.
type FlowOutcome struct {
	Output json.RawMessage `json:"output,omitempty"`
	Error  *FlowError      `json:"error,omitempty"`
	// ContinueAsNew, when set, ends this run and starts the next with it
	// as input.
	ContinueAsNew json.RawMessage `json:"continue_as_new,omitempty"`
	Suspended     bool            `json:"suspended,omitempty"`
}
