// Command approvals runs the workflow "approval": a request waits for a
// person to approve or reject it, sent as the signal "approval"
//
//	strata workflow signal <id> approval --data '{"approved":true,"by":"ann"}'
//
// When no answer comes within escalate_after_seconds, the step "escalate"
// hands the request to someone else and the workflow waits again, until
// timeout_seconds after the start; then it rejects the request by itself.
//
// The waits are durable: a 72-hour wait is a row in Strata's store, not a
// running instance, and it survives restarts of the server.
package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/sdk/go/flow"
)

// Request is the workflow's input.
type Request struct {
	Request  string `json:"request"`  // what is to be approved
	Approver string `json:"approver"` // who is asked first
	// TimeoutSeconds is how long the request may wait in all before it
	// is rejected (default 72 hours).
	TimeoutSeconds int `json:"timeout_seconds"`
	// EscalateAfterSeconds is when it is escalated if nobody answered
	// (default two thirds of the timeout); less than TimeoutSeconds.
	EscalateAfterSeconds int `json:"escalate_after_seconds"`
}

// Decision is the value of the signal "approval".
type Decision struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
}

// Result is the workflow's output.
type Result struct {
	Approved    bool   `json:"approved"`
	By          string `json:"by"` // who decided; "timeout" when nobody did
	Escalated   bool   `json:"escalated"`
	EscalatedTo string `json:"escalated_to,omitempty"`
}

// Escalation is the input and output of the step "escalate".
type Escalation struct {
	Request  string `json:"request"`
	Approver string `json:"approver"`
	Waited   int    `json:"waited_seconds"`
	To       string `json:"to,omitempty"` // the escalate step's answer
}

const defaultTimeout = 72 * time.Hour

func init() { flow.Workflow("approval", Approval) }

// Approval is the workflow.
func Approval(ctx flow.Context, req Request) (Result, error) {
	timeout, escalateAfter, err := periods(req)
	if err != nil {
		return Result{}, flow.NewError("BadInput", err.Error())
	}

	d, err := flow.WaitSignal[Decision](ctx, "approval", escalateAfter)
	if err == nil {
		return Result{Approved: d.Approved, By: d.By}, nil
	}
	if !errors.Is(err, flow.ErrTimeout) {
		return Result{}, err // canceled: the execution ends canceled
	}

	// Nobody answered in time: escalate, then wait for the rest of the
	// timeout. An answer may still come from the first approver too: the
	// signal does not say who may send it.
	esc := Escalation{Request: req.Request, Approver: req.Approver, Waited: int(escalateAfter / time.Second)}
	if err := flow.Call(ctx, "escalate", esc, &esc); err != nil {
		return Result{}, err
	}
	d, err = flow.WaitSignal[Decision](ctx, "approval", timeout-escalateAfter)
	switch {
	case err == nil:
		return Result{Approved: d.Approved, By: d.By, Escalated: true, EscalatedTo: esc.To}, nil
	case errors.Is(err, flow.ErrTimeout):
		return Result{Approved: false, By: "timeout", Escalated: true, EscalatedTo: esc.To}, nil
	}
	return Result{}, err
}

// periods returns the whole wait and the wait before escalating.
func periods(req Request) (timeout, escalateAfter time.Duration, err error) {
	if req.Approver == "" {
		return 0, 0, errors.New(`"approver" is required`)
	}
	if req.TimeoutSeconds < 0 || req.EscalateAfterSeconds < 0 {
		return 0, 0, errors.New("timeouts must not be negative")
	}
	timeout = defaultTimeout
	if req.TimeoutSeconds > 0 {
		timeout = time.Duration(req.TimeoutSeconds) * time.Second
	}
	escalateAfter = timeout * 2 / 3
	if req.EscalateAfterSeconds > 0 {
		escalateAfter = time.Duration(req.EscalateAfterSeconds) * time.Second
	}
	if escalateAfter >= timeout {
		return 0, 0, fmt.Errorf("escalate_after_seconds (%d) must be less than the timeout (%v)", req.EscalateAfterSeconds, timeout)
	}
	return timeout, escalateAfter, nil
}

func main() {}
