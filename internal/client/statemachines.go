package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

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

// StateMachineHistory returns a STANDARD execution's history as
// GetExecutionHistory answers it (events, and nextToken past 1,000).
func (c *Client) StateMachineHistory(ctx context.Context, project, name, execution string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.getJSON(ctx, http.MethodGet, machinesPath(project, "/"+url.PathEscape(name)+"/executions/"+url.PathEscape(execution)+"/history"), nil, &out)
	return out, err
}

// StateMachineDescribe returns a STANDARD execution as DescribeExecution
// answers it.
func (c *Client) StateMachineDescribe(ctx context.Context, project, name, execution string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.getJSON(ctx, http.MethodGet, machinesPath(project, "/"+url.PathEscape(name)+"/executions/"+url.PathEscape(execution)), nil, &out)
	return out, err
}

// StateMachineExecutions lists a STANDARD machine's executions as
// ListExecutions answers them (status "" for all).
func (c *Client) StateMachineExecutions(ctx context.Context, project, name, status string) (json.RawMessage, error) {
	var out json.RawMessage
	p := machinesPath(project, "/"+url.PathEscape(name)+"/executions")
	if status != "" {
		p += sep(p) + "status=" + url.QueryEscape(status)
	}
	err := c.getJSON(ctx, http.MethodGet, p, nil, &out)
	return out, err
}

// StateMachineStop stops a running STANDARD execution.
func (c *Client) StateMachineStop(ctx context.Context, project, name, execution, errName, cause string) error {
	p := machinesPath(project, "/"+url.PathEscape(name)+"/executions/"+url.PathEscape(execution)+"/stop")
	p += sep(p) + "error=" + url.QueryEscape(errName) + "&cause=" + url.QueryEscape(cause)
	return c.getJSON(ctx, http.MethodPost, p, nil, nil)
}

// StateMachineRedrive continues a failed, timed-out or aborted STANDARD
// execution where it stopped (RedriveExecution).
func (c *Client) StateMachineRedrive(ctx context.Context, project, name, execution string) error {
	return c.getJSON(ctx, http.MethodPost, machinesPath(project, "/"+url.PathEscape(name)+"/executions/"+url.PathEscape(execution)+"/redrive"), nil, nil)
}

func sep(p string) string {
	if strings.Contains(p, "?") {
		return "&"
	}
	return "?"
}
