package flow

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// History event types (docs/workflows.md). Command events record what the
// orchestrator asked for, one per step, in step order; replay matches the
// code's commands against them. Result events record what happened.
const (
	EvStarted    = "started"    // Data: startedData
	EvRestarted  = "restarted"  // Data: restartData
	EvCompleted  = "completed"  // Data: {"output": …}
	EvFailed     = "failed"     // Data: {"error": wire.FlowError}
	EvCanceled   = "canceled"   // Data: {"error": …}
	EvTerminated = "terminated" // Data: {"reason": …}
	EvContinued  = "continued"  // Data: {"input": …} (last event of a run)
	EvCancelReq  = "cancel_requested"

	// Commands.
	EvCallScheduled = "call_scheduled" // Name: function; Data: callData
	EvChildStarted  = "child_started"  // Name: workflow; Data: {"id","input"}
	EvTimerStarted  = "timer_started"  // Data: {"fire_at"}
	EvSignalWaiting = "signal_waiting" // Name: signal; Data: {"timeout_at"}
	EvMarker        = "marker"         // Name: now|random|uuid|version:<change>; Data: {"value"}

	// Results.
	EvCallRetrying   = "call_retrying" // Data: {"attempt","error","next_at"}
	EvCallCompleted  = "call_completed"
	EvCallFailed     = "call_failed"
	EvChildCompleted = "child_completed"
	EvChildFailed    = "child_failed"
	EvTimerFired     = "timer_fired"
	EvSignalReceived = "signal_received"
	EvSignalTimedOut = "signal_timed_out"
)

type startedData struct {
	Input      json.RawMessage `json:"input"`
	TraceID    string          `json:"trace_id"`
	Parent     string          `json:"parent,omitempty"`
	ParentStep int             `json:"parent_step,omitempty"`
	Restarted  bool            `json:"restarted,omitempty"`
	Continued  bool            `json:"continued,omitempty"`
	// TraceParent is the execution's start span (or, with tracing off,
	// its starter's traceparent): the parent of every span of the
	// execution, after restarts too.
	TraceParent string `json:"traceparent,omitempty"`
}

type restartData struct {
	DiscardStep int `json:"discard_step,omitempty"`
	// Forget lists keys of a keyed orchestrator (keyed.go) whose records
	// the restart drops: those effects run again (Engine.Redrive).
	Forget []string `json:"forget,omitempty"`
	// Token is the redrive request's idempotency token (Engine.Redrive).
	Token string `json:"token,omitempty"`
}

// Restarted reads an EvRestarted event of a keyed orchestrator: the keys
// it forgot and the token of the request that made it.
func Restarted(ev record.FlowEvent) (forget []string, token string) {
	var rd restartData
	_ = json.Unmarshal(ev.Data, &rd)
	return rd.Forget, rd.Token
}

type callData struct {
	Input    json.RawMessage    `json:"input"`
	Retry    *wire.FlowRetry    `json:"retry,omitempty"`
	Timeouts *wire.FlowTimeouts `json:"timeouts,omitempty"`
}

type resultData struct {
	Output  json.RawMessage `json:"output,omitempty"`
	Error   *wire.FlowError `json:"error,omitempty"`
	Attempt int             `json:"attempt,omitempty"`
	NextAt  *time.Time      `json:"next_at,omitempty"`
	Details json.RawMessage `json:"details,omitempty"` // the attempt's last heartbeat
	Reason  string          `json:"reason,omitempty"`
}

type waitData struct {
	FireAt    *time.Time      `json:"fire_at,omitempty"`
	TimeoutAt *time.Time      `json:"timeout_at,omitempty"`
	ID        string          `json:"id,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	Value     json.RawMessage `json:"value,omitempty"`
}

type cancelData struct {
	Await  int    `json:"await"`
	Reason string `json:"reason,omitempty"`
}

func isCommand(t string) bool {
	switch t {
	case EvCallScheduled, EvChildStarted, EvTimerStarted, EvSignalWaiting, EvMarker:
		return true
	}
	return false
}

// kindOf names a command event's kind as the SDK asks for it, for
// non-determinism messages.
func kindOf(ev record.FlowEvent) string {
	switch ev.Type {
	case EvCallScheduled:
		return wire.FlowCall
	case EvChildStarted:
		return wire.FlowChild
	case EvTimerStarted:
		return wire.FlowSleep
	case EvSignalWaiting:
		return wire.FlowSignal
	}
	return ev.Name
}

// childMessage is the inbox message a closing child leaves its parent.
func childMessage(parent string, step int, output []byte, ferr *wire.FlowError) record.FlowInbox {
	data, _ := json.Marshal(resultData{Output: output, Error: ferr})
	return record.FlowInbox{ExecutionID: parent, Kind: record.InboxChild, Name: strconv.Itoa(step), Data: data}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
