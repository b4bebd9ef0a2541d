package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/sdk/go/wire"
)

// The answers to workflow work asked of an invocation that does not do
// it: commands outside an orchestrator pass, a heartbeat outside an
// activity. Their text reaches the guest.
var (
	errNotOrchestrator = errors.New("flow: workflow commands work only inside a workflow (register it with flow.Workflow and start it as a workflow)")
	errNotActivity     = errors.New("heartbeat outside a workflow activity")
)

var (
	_ host.Workflow = (*Run)(nil)
	_ host.Workflow = (*activity)(nil)
)

// Command answers the workflow work an invocation's guest asks of the
// run or activity it works for (c.Workflow): an orchestrator's schedule
// and await, an activity's heartbeat. An invocation doing neither (c nil
// or without a Workflow) is told so.
func Command(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error) {
	if c != nil && c.Workflow != nil {
		return c.Workflow.FlowCall(ctx, c, req)
	}
	switch req.Op {
	case wire.FlowOpSchedule, wire.FlowOpAwait:
		return nil, errNotOrchestrator
	case wire.FlowOpHeartbeat:
		return nil, errNotActivity
	}
	return nil, fmt.Errorf("flow: unknown op %q", req.Op)
}

// FlowCall implements host.Workflow for an orchestrator pass over r.
func (r *Run) FlowCall(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error) {
	switch req.Op {
	case wire.FlowOpSchedule:
		return r.Schedule(ctx, req), nil
	case wire.FlowOpAwait:
		return r.await(ctx, c, req.Steps), nil
	case wire.FlowOpHeartbeat:
		return nil, errNotActivity
	}
	return nil, fmt.Errorf("flow: unknown op %q", req.Op)
}

// FlowCall implements host.Workflow for an activity attempt.
func (a *activity) FlowCall(ctx context.Context, _ *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error) {
	switch req.Op {
	case wire.FlowOpHeartbeat:
		return &wire.FlowResponse{Canceled: a.heartbeat(ctx, req.Details)}, nil
	case wire.FlowOpSchedule, wire.FlowOpAwait:
		return nil, errNotOrchestrator
	}
	return nil, fmt.Errorf("flow: unknown op %q", req.Op)
}
