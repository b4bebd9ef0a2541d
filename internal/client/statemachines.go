package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/apitype"
)

// Every state machine call acts on one project: project names it, or ""
// for the token's own (a token of every project must name one).

func machinesPath(project, suffix string) string {
	q := url.Values{}
	setQuery(q, "project", project)
	p := "/state-machines" + suffix
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// StateMachines lists a project's state machines by name.
func (c *Client) StateMachines(ctx context.Context, project string) ([]apitype.StateMachineInfo, error) {
	var out apitype.StateMachineList
	if err := c.getJSON(ctx, http.MethodGet, machinesPath(project, ""), nil, &out); err != nil {
		return nil, err
	}
	return out.StateMachines, nil
}

// StateMachine returns a state machine with its definition.
func (c *Client) StateMachine(ctx context.Context, project, name string) (*apitype.StateMachineInfo, error) {
	var out apitype.StateMachineInfo
	if err := c.getJSON(ctx, http.MethodGet, machinesPath(project, "/"+url.PathEscape(name)), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StateMachineValidate validates a definition (JSON) on the server.
func (c *Client) StateMachineValidate(ctx context.Context, definition string) (*apitype.StateMachineValidation, error) {
	var out apitype.StateMachineValidation
	if err := c.getJSON(ctx, http.MethodPost, "/state-machines/validate", apitype.StateMachineValidate{Definition: definition}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StateMachineStart starts an execution of a project's state machine.
func (c *Client) StateMachineStart(ctx context.Context, project, name string, in apitype.StateMachineStart) (*apitype.StateMachineExecution, error) {
	var out apitype.StateMachineExecution
	if err := c.getJSON(ctx, http.MethodPost, machinesPath(project, "/"+url.PathEscape(name)+"/start"), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StateMachineHistory asks for an execution's history; the server
// answers that STANDARD executions are not available yet.
func (c *Client) StateMachineHistory(ctx context.Context, project, name, execution string) error {
	return c.getJSON(ctx, http.MethodGet, machinesPath(project, "/"+url.PathEscape(name)+"/executions/"+url.PathEscape(execution)+"/history"), nil, nil)
}

// StateMachineStop asks to stop an execution; the server answers that
// STANDARD executions are not available yet.
func (c *Client) StateMachineStop(ctx context.Context, project, name, execution string) error {
	return c.getJSON(ctx, http.MethodPost, machinesPath(project, "/"+url.PathEscape(name)+"/executions/"+url.PathEscape(execution)+"/stop"), nil, nil)
}
