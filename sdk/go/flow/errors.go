package flow

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Sentinel errors to test with errors.Is against what steps return.
var (
	// ErrCanceled: the execution was asked to cancel (a *Error of type
	// "Canceled"), or, from Heartbeat, the activity should stop.
	ErrCanceled = errors.New("flow: canceled")
	// ErrTimeout: a step, an attempt or a signal wait ran out of time (a
	// *Error of type "Timeout" or "HeartbeatTimeout").
	ErrTimeout = errors.New("flow: timed out")
)

// Error is an error as workflows see it: an activity's or a child's
// failure, a timeout, a cancellation, or a command the platform refused.
// Activities return one (NewError) to give their failure a type.
type Error struct {
	Type    string // e.g. "CardDeclined", "Timeout", "Canceled", "ActivityError"
	Message string
	// Step is the step that failed (0: not a step's error); Name is its
	// function or workflow.
	Step         int
	Name         string
	Attempts     int  // attempts made, for an activity
	NonRetryable bool // the activity said not to retry it
	Details      json.RawMessage
}

// NewError returns a *Error of type typ, for an activity's failure that the
// workflow (or a Retry's NonRetryable list) tells apart by type.
func NewError(typ, msg string) error { return &Error{Type: typ, Message: msg} }

func (e *Error) Error() string {
	var b []byte
	if e.Step > 0 {
		b = append(b, "step "...)
		b = strconv.AppendInt(b, int64(e.Step), 10)
		if e.Name != "" {
			b = append(b, ' ')
			b = append(b, e.Name...)
		}
		b = append(b, ": "...)
	}
	b = append(b, e.Type...)
	if e.Message != "" {
		b = append(b, ": "...)
		b = append(b, e.Message...)
	}
	if e.Attempts > 1 {
		b = append(b, " (after "...)
		b = strconv.AppendInt(b, int64(e.Attempts), 10)
		b = append(b, " attempts)"...)
	}
	return string(b)
}

// Is makes errors.Is(err, ErrCanceled) and errors.Is(err, ErrTimeout) true
// for errors of those types.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrCanceled:
		return e.Type == wire.FlowErrCanceled
	case ErrTimeout:
		return e.Type == wire.FlowErrTimeout || e.Type == wire.FlowErrHeartbeatTimeout
	}
	return false
}

func fromWire(fe *wire.FlowError) *Error {
	return &Error{Type: fe.Type, Message: fe.Message, Step: fe.Step, Name: fe.Name,
		Attempts: fe.Attempts, NonRetryable: fe.NonRetryable, Details: fe.Details}
}

func (e *Error) wire() *wire.FlowError {
	return &wire.FlowError{Type: e.Type, Message: e.Message, Step: e.Step, Name: e.Name,
		Attempts: e.Attempts, NonRetryable: e.NonRetryable, Details: e.Details}
}

// NonRetryable marks an activity's error as final: the step fails at once,
// whatever its Retry policy allows.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryable{err}
}

type nonRetryable struct{ err error }

func (n *nonRetryable) Error() string { return n.err.Error() }
func (n *nonRetryable) Unwrap() error { return n.err }

// toWire turns an error a workflow or an activity returned into a
// FlowError: a *Error (possibly wrapped) keeps its type and step, anything
// else gets type typ. The message is the *Error's own when it is the error
// returned, the whole chain's text otherwise.
func toWire(err error, typ string) *wire.FlowError {
	var nr *nonRetryable
	final := errors.As(err, &nr)
	top := err
	if nr != nil && err == error(nr) {
		top = nr.err
	}
	var fe *Error
	if errors.As(err, &fe) {
		w := fe.wire()
		if top != error(fe) {
			w.Message = err.Error()
		}
		w.NonRetryable = w.NonRetryable || final
		return w
	}
	return &wire.FlowError{Type: typ, Message: err.Error(), NonRetryable: final}
}
