package asl

import (
	"encoding/json"
	"time"
)

// Event types, named as in AWS Step Functions execution histories.
const (
	ExecutionStarted       = "ExecutionStarted"
	ExecutionSucceeded     = "ExecutionSucceeded"
	ExecutionFailed        = "ExecutionFailed"
	ExecutionTimedOut      = "ExecutionTimedOut"
	ExecutionAborted       = "ExecutionAborted"
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
	id := th.ex.ids.Add(1)
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
