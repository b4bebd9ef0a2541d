package flow

import (
	"fmt"
	"math"
	"time"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Option sets an option of a step: Retry and Timeouts for calls, ID for
// children.
type Option interface {
	apply(r *wire.FlowRequest) error
}

// Retry is an activity's retry policy. Zero fields take the platform's
// defaults (docs/workflows.md); Max: 1 means a single attempt.
type Retry struct {
	Max         int           // attempts in all, the first included
	Backoff     time.Duration // wait before the first retry
	Coefficient float64       // each wait is the previous one times this
	MaxInterval time.Duration // cap of a wait
	// NonRetryable lists error types (Error.Type) that fail the step at
	// once.
	NonRetryable []string
}

func (o Retry) apply(r *wire.FlowRequest) error {
	if r.Kind != wire.FlowCall {
		return fmt.Errorf("flow.Retry applies to calls, not to %s", r.Kind)
	}
	if o.Max < 0 || o.Backoff < 0 || o.MaxInterval < 0 {
		return fmt.Errorf("flow.Retry %+v: negative field", o)
	}
	if o.Coefficient != 0 && (o.Coefficient < 1 || math.IsInf(o.Coefficient, 0) || math.IsNaN(o.Coefficient)) {
		return fmt.Errorf("flow.Retry coefficient %v is not a finite number >= 1", o.Coefficient)
	}
	r.Retry = &wire.FlowRetry{MaxAttempts: o.Max, InitialMS: millis(o.Backoff), Coefficient: o.Coefficient,
		MaxIntervalMS: millis(o.MaxInterval), NonRetryable: o.NonRetryable}
	return nil
}

// Timeouts bound an activity: one attempt (StartToClose), the whole step
// with its retries and their waits (ScheduleToClose), and the longest gap
// between two Heartbeat calls. Zero fields take the platform's defaults.
type Timeouts struct {
	StartToClose, ScheduleToClose, Heartbeat time.Duration
}

func (o Timeouts) apply(r *wire.FlowRequest) error {
	if r.Kind != wire.FlowCall {
		return fmt.Errorf("flow.Timeouts applies to calls, not to %s", r.Kind)
	}
	if o.StartToClose < 0 || o.ScheduleToClose < 0 || o.Heartbeat < 0 {
		return fmt.Errorf("flow.Timeouts %+v: negative duration", o)
	}
	r.Timeouts = &wire.FlowTimeouts{StartToCloseMS: millis(o.StartToClose),
		ScheduleToCloseMS: millis(o.ScheduleToClose), HeartbeatMS: millis(o.Heartbeat)}
	return nil
}

// ID sets a child execution's id (default: one derived from the parent's
// id and the step, so it is the same on every replay).
func ID(id string) Option { return idOption(id) }

type idOption string

func (o idOption) apply(r *wire.FlowRequest) error {
	if r.Kind != wire.FlowChild {
		return fmt.Errorf("flow.ID applies to children, not to %s", r.Kind)
	}
	r.ID = string(o)
	return nil
}

func applyOptions(r *wire.FlowRequest, opts []Option) error {
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(r); err != nil {
			return err
		}
	}
	return nil
}

// millis rounds d up to whole milliseconds, so a positive duration never
// becomes 0 ("the default").
func millis(d time.Duration) int64 {
	if d > math.MaxInt64-time.Millisecond {
		return int64(d / time.Millisecond)
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
