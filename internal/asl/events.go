package asl

import (
	"encoding/json"
	"errors"
	"time"
)

// Event types, named as in AWS Step Functions execution histories.
const (
	ExecutionStarted   = "ExecutionStarted"
	ExecutionSucceeded = "ExecutionSucceeded"
	ExecutionFailed    = "ExecutionFailed"
	ExecutionTimedOut  = "ExecutionTimedOut"
	ExecutionAborted   = "ExecutionAborted"
	// ExecutionRedriven is not emitted by Run: a durable execution's
	// history adds it where a redrive continued the execution.
	ExecutionRedriven      = "ExecutionRedriven"
	PassStateEntered       = "PassStateEntered"
	PassStateExited        = "PassStateExited"
	TaskStateEntered       = "TaskStateEntered"
	TaskStateExited        = "TaskStateExited"
	TaskScheduled          = "TaskScheduled"
	TaskStarted            = "TaskStarted"
	TaskSucceeded          = "TaskSucceeded"
	TaskFailed             = "TaskFailed"
	TaskTimedOut           = "TaskTimedOut"
	ChoiceStateEntered     = "ChoiceStateEntered"
	ChoiceStateExited      = "ChoiceStateExited"
	WaitStateEntered       = "WaitStateEntered"
	WaitStateExited        = "WaitStateExited"
	SucceedStateEntered    = "SucceedStateEntered"
	SucceedStateExited     = "SucceedStateExited"
	FailStateEntered       = "FailStateEntered"
	ParallelStateEntered   = "ParallelStateEntered"
	ParallelStateStarted   = "ParallelStateStarted"
	ParallelStateSucceeded = "ParallelStateSucceeded"
	ParallelStateFailed    = "ParallelStateFailed"
	ParallelStateExited    = "ParallelStateExited"
	MapStateEntered        = "MapStateEntered"
	MapStateStarted        = "MapStateStarted"
	MapIterationStarted    = "MapIterationStarted"
	MapIterationSucceeded  = "MapIterationSucceeded"
	MapIterationFailed     = "MapIterationFailed"
	MapStateSucceeded      = "MapStateSucceeded"
	MapStateFailed         = "MapStateFailed"
	MapStateExited         = "MapStateExited"
)

// Event is one history event. ID counts from 1 within an execution;
// PreviousEventID is the event before it on the same branch or iteration.
type Event struct {
	ID              int64
	PreviousEventID int64
	Type            string
	Timestamp       time.Time
	StateName       string          `json:",omitempty"`
	Resource        string          `json:",omitempty"`
	Input           json.RawMessage `json:",omitempty"`
	Output          json.RawMessage `json:",omitempty"`
	Error           string          `json:",omitempty"`
	Cause           string          `json:",omitempty"`
	Index           int             `json:",omitempty"` // Map iteration
	Length          int             `json:",omitempty"` // Map items
	// Thread is the branch or iteration that emitted the event, by
	// position (the prefix of its effects' keys, TaskCall.Key); "r" is
	// the top level.
	Thread string `json:"-"`
}

// emit numbers the event and, when a callback is set, delivers it. The id
// is drawn even without a callback: causes cite the entered event's id.
func (th *thread) emit(e Event) int64 {
	var id int64
	if th.ex.opts.MaxEvents > 0 {
		var ok bool
		if id, ok = th.ex.nextCapped(e.Type); !ok {
			return th.prev
		}
	} else {
		id = th.ex.ids.Add(1)
	}
	if cb := th.ex.opts.OnEvent; cb != nil {
		e.ID, e.PreviousEventID = id, th.prev
		e.Timestamp = th.ex.opts.Now()
		e.Thread = th.path
		th.ex.evMu.Lock()
		cb(e)
		th.ex.evMu.Unlock()
	}
	th.prev = id
	return id
}

// jsonIf encodes v for an event only when someone listens.
func (th *thread) jsonIf(v any) json.RawMessage {
	if th.ex.opts.OnEvent == nil {
		return nil
	}
	return marshal(v)
}

// MaxHistoryEvents is AWS's hard cap on a STANDARD execution's history.
const MaxHistoryEvents = 25000

// historyFull is the failure of an execution whose history reached its
// cap. AWS documents that the execution fails with an ExecutionFailed
// event as its last, numbered 25,000, but not the error it names; the
// cap is a limit of the service, as States.Runtime's other causes are.
func historyFull(max int) *Error {
	return newErr(ErrRuntime, "The execution reached the maximum number of events in its history (%d).", max)
}

// nextCapped draws the id of an event of type typ under Options.MaxEvents,
// or reports that the event is not emitted. As at AWS, the event numbered
// MaxEvents is the last: the execution's success may take it, any other
// event past MaxEvents-1 stops the run instead (Run then emits the
// ExecutionFailed that takes it).
func (ex *execution) nextCapped(typ string) (int64, bool) {
	final := typ == ExecutionSucceeded || typ == ExecutionFailed || typ == ExecutionTimedOut || typ == ExecutionAborted
	for {
		n := ex.ids.Load()
		if !final && (ex.capped.Load() || n >= int64(ex.opts.MaxEvents-1)) {
			if !ex.capped.Swap(true) && ex.stop != nil {
				ex.stop(errHistoryFull)
			}
			return 0, false
		}
		if ex.ids.CompareAndSwap(n, n+1) {
			return n + 1, true
		}
	}
}

// errHistoryFull is the cause the run's context ends with at the cap.
var errHistoryFull = errors.New("asl: the execution's history is full")
