package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stratahq/strata/sdk/go/wire"
)

// errInWorkflow: Start and Signal are not recorded, so a replay would
// repeat them.
var errInWorkflow = errors.New("not from workflow code: use flow.Child, or call an activity that does it")

// Start starts an execution of workflow with in and returns its id. id ""
// gets a new one; starting an id that exists starts nothing and returns it
// (ids are idempotency keys). Call it from any function, not from workflow
// code.
func Start(ctx context.Context, workflow, id string, in any) (string, error) {
	if _, ok := ctx.(Context); ok {
		return "", fmt.Errorf("flow.Start %s: %w", workflow, errInWorkflow)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("flow.Start %s: %w", workflow, err)
	}
	req := wire.FlowRequest{Op: wire.FlowOpStart, Workflow: workflow, ID: id}
	if err := encodeInput(&req, in); err != nil {
		return "", fmt.Errorf("flow.Start %s: %w", workflow, err)
	}
	resp, err := exchange(&req)
	if err != nil {
		return "", fmt.Errorf("flow.Start %s: %w", workflow, err)
	}
	if resp.Error != nil {
		return "", fromWire(resp.Error)
	}
	return resp.ID, nil
}

// Signal sends the signal name with value to an execution, where a
// WaitSignal receives it (signals are buffered until one does). Call it
// from any function, not from workflow code.
func Signal(ctx context.Context, execution, name string, value any) error {
	if _, ok := ctx.(Context); ok {
		return fmt.Errorf("flow.Signal %s: %w", name, errInWorkflow)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("flow.Signal %s to %s: %w", name, execution, err)
	}
	req := wire.FlowRequest{Op: wire.FlowOpSignal, ID: execution, Name: name}
	if err := encodeInput(&req, value); err != nil {
		return fmt.Errorf("flow.Signal %s to %s: %w", name, execution, err)
	}
	resp, err := exchange(&req)
	if err != nil {
		return fmt.Errorf("flow.Signal %s to %s: %w", name, execution, err)
	}
	if resp.Error != nil {
		return fromWire(resp.Error)
	}
	return nil
}

func encodeInput(req *wire.FlowRequest, in any) error {
	if in == nil {
		return nil
	}
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode input: %w", err)
	}
	req.Input = b
	return nil
}
