package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Invoker runs the orchestrator function: *invoke.Invoker.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// Orchestrator runs one pass of a Wasm orchestrator.
type Orchestrator struct {
	Invoker Invoker
}

// Orchestrate invokes the execution's function with the task; the
// guest's flow calls reach r through ctx (flow.WithRun, set by the core).
func (o *Orchestrator) Orchestrate(ctx context.Context, r *flow.Run) (flow.Outcome, error) {
	ex := r.Execution()
	body, err := json.Marshal(wire.FlowTask{Workflow: ex.Workflow, Execution: ex.ID, Run: ex.Run, Input: ex.Input})
	if err != nil {
		return flow.Outcome{}, err
	}
	res, err := o.Invoker.Invoke(ctx, invoke.Request{
		Function: ex.Function, Trigger: "workflow", TraceParent: r.TraceParent(),
		Wire: &wire.Request{
			Method: "POST", Path: "/",
			Headers: []wire.Header{
				{Name: "Content-Type", Values: []string{"application/json"}},
				{Name: wire.FlowHeader, Values: []string{"orchestrate"}},
			},
			Body: body,
		},
	})
	if err != nil {
		return flow.Outcome{}, err
	}
	var out flow.Outcome
	if res.Response.Status != 200 || json.Unmarshal(res.Response.Body, &out) != nil {
		snippet := res.Response.Body
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return flow.Outcome{}, fmt.Errorf("function %s did not answer as a workflow orchestrator (status %d: %q): does it register workflow %s with flow.Workflow?",
			ex.Function, res.Response.Status, snippet, ex.Workflow)
	}
	return out, nil
}

// Host answers flow host calls.
type Host struct {
	Engine *flow.Engine
	// ProjectOf names the project of a function: a function may start
	// only its own project's workflows.
	ProjectOf func(function string) string
}

// Flow implements runtime.Flow.
func (h *Host) Flow(ctx context.Context, req wire.FlowRequest) (*wire.FlowResponse, error) {
	switch req.Op {
	case wire.FlowOpSchedule, wire.FlowOpAwait:
		r := flow.RunFrom(ctx)
		if r == nil {
			return nil, errors.New("flow: workflow commands work only inside a workflow (register it with flow.Workflow and start it as a workflow)")
		}
		if req.Op == wire.FlowOpSchedule {
			return r.Schedule(ctx, req), nil
		}
		return r.Await(ctx, req.Steps), nil
	case wire.FlowOpHeartbeat:
		canceled, err := flow.Heartbeat(ctx, req.Details)
		if err != nil {
			return nil, err
		}
		return &wire.FlowResponse{Canceled: canceled}, nil
	case wire.FlowOpStart:
		c, project, err := h.caller(ctx)
		if err != nil {
			return nil, err
		}
		ex, created, err := h.Engine.Start(ctx, flow.StartParams{
			Workflow: req.Workflow, ID: req.ID, Input: req.Input, TraceParent: c.TraceParent, Project: project,
		})
		if err != nil {
			return nil, err
		}
		return &wire.FlowResponse{ID: ex.ID, Existed: !created}, nil
	case wire.FlowOpSignal:
		_, project, err := h.caller(ctx)
		if err != nil {
			return nil, err
		}
		// Only the caller's project's executions: a signal to another
		// project's id is answered as one to an id that does not exist.
		if err := h.Engine.Signal(ctx, project, req.ID, req.Name, req.Input); err != nil {
			return nil, err
		}
		return &wire.FlowResponse{}, nil
	}
	return nil, fmt.Errorf("flow: unknown op %q", req.Op)
}

// caller names the invocation making a host call that reaches executions
// (start, signal) and its project, which bounds what it reaches.
func (h *Host) caller(ctx context.Context) (bindings.Caller, string, error) {
	if h.Engine == nil {
		return bindings.Caller{}, "", errors.New("flow: workflows are not enabled on this host")
	}
	c, ok := bindings.CallerFrom(ctx)
	if !ok || h.ProjectOf == nil {
		return bindings.Caller{}, "", errors.New("flow: start or signal a workflow from inside an invocation")
	}
	project := h.ProjectOf(c.Function)
	if project == flow.AllProjects { // it would reach every project's executions
		return bindings.Caller{}, "", fmt.Errorf("flow: function %s has no project on this node yet", c.Function)
	}
	return c, project, nil
}
