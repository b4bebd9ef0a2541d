package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/host"
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
// guest's flow calls reach r through its invocation's host.Call
// (Request.Workflow).
func (o *Orchestrator) Orchestrate(ctx context.Context, r *flow.Run) (flow.Outcome, error) {
	ex := r.Execution()
	body, err := json.Marshal(wire.FlowTask{Workflow: ex.Workflow, Execution: ex.ID, Run: ex.Run, Input: ex.Input})
	if err != nil {
		return flow.Outcome{}, err
	}
	res, err := o.Invoker.Invoke(ctx, invoke.Request{
		Function: ex.Function, Trigger: "workflow", TraceParent: r.TraceParent(), Workflow: r,
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

// Flow implements wasm.Flow: c is the calling invocation (nil outside
// one).
func (h *Host) Flow(ctx context.Context, c *host.Call, req wire.FlowRequest) (*wire.FlowResponse, error) {
	switch req.Op {
	case wire.FlowOpSchedule, wire.FlowOpAwait, wire.FlowOpHeartbeat:
		// Work for the run or activity the invocation serves.
		return flow.Command(ctx, c, req)
	case wire.FlowOpStart:
		project, err := h.project(c)
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
		project, err := h.project(c)
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

// project is the project of the invocation c making a host call that
// reaches executions (start, signal): it bounds what the call reaches.
func (h *Host) project(c *host.Call) (string, error) {
	if h.Engine == nil {
		return "", errors.New("flow: workflows are not enabled on this host")
	}
	if c == nil || h.ProjectOf == nil {
		return "", errors.New("flow: start or signal a workflow from inside an invocation")
	}
	project := h.ProjectOf(c.Function)
	if project == flow.AllProjects { // it would reach every project's executions
		return "", fmt.Errorf("flow: function %s has no project on this node yet", c.Function)
	}
	return project, nil
}
