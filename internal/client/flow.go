package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/stratahq/strata/internal/apitype"
)

// ExecutionStart starts a workflow execution. With an id that exists it
// returns that execution and created false (starting is idempotent on the
// id). input is JSON; nil is null.
func (c *Client) ExecutionStart(ctx context.Context, workflow, id string, input []byte) (exec *apitype.ExecutionInfo, created bool, err error) {
	b, err := json.Marshal(apitype.ExecutionStart{Workflow: workflow, ID: id, Input: input})
	if err != nil {
		return nil, false, err
	}
	resp, err := c.do(ctx, http.MethodPost, "/executions", bytes.NewReader(b), http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return nil, false, decodeError(resp)
	}
	var out apitype.ExecutionInfo
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, false, err
	}
	return &out, resp.StatusCode == http.StatusCreated, nil
}

// ExecutionListParams filters executions; zero fields do not filter.
type ExecutionListParams struct {
	Workflow string
	Status   string
	ParentID string
	Before   string // an execution id: list only those started before it
	Limit    int    // 0: the server's default (100)
}

// Executions lists executions, newest first.
func (c *Client) Executions(ctx context.Context, p ExecutionListParams) ([]apitype.ExecutionInfo, error) {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("workflow", p.Workflow)
	set("status", p.Status)
	set("parent", p.ParentID)
	set("before", p.Before)
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var out apitype.ExecutionList
	return out.Executions, c.getJSON(ctx, http.MethodGet, "/executions?"+q.Encode(), nil, &out)
}

// Execution returns one execution.
func (c *Client) Execution(ctx context.Context, id string) (*apitype.ExecutionInfo, error) {
	var out apitype.ExecutionInfo
	if err := c.getJSON(ctx, http.MethodGet, "/executions/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExecutionHistory returns the events of one run of an execution (0: the
// current run), oldest first.
func (c *Client) ExecutionHistory(ctx context.Context, id string, run int) ([]apitype.ExecutionEvent, error) {
	path := "/executions/" + url.PathEscape(id) + "/history"
	if run > 0 {
		path += "?run=" + strconv.Itoa(run)
	}
	var out apitype.ExecutionHistory
	return out.Events, c.getJSON(ctx, http.MethodGet, path, nil, &out)
}

// ExecutionSignal sends a signal with a JSON value (nil: null) to a
// running execution; it waits there until the workflow consumes it.
func (c *Client) ExecutionSignal(ctx context.Context, id, name string, value []byte) error {
	if len(value) == 0 {
		value = []byte("null")
	}
	var out apitype.SignalAccepted
	return c.postRaw(ctx, "/executions/"+url.PathEscape(id)+"/signals/"+url.PathEscape(name), value,
		http.Header{"Content-Type": {"application/json"}}, &out)
}

// ExecutionCancel asks a running execution to cancel; its code sees the
// cancellation at its next wait and may compensate.
func (c *Client) ExecutionCancel(ctx context.Context, id, reason string) error {
	return c.getJSON(ctx, http.MethodPost, "/executions/"+url.PathEscape(id)+"/cancel", apitype.ReasonRequest{Reason: reason}, nil)
}

// ExecutionTerminate ends a running execution at once, without running
// its code.
func (c *Client) ExecutionTerminate(ctx context.Context, id, reason string) error {
	return c.getJSON(ctx, http.MethodPost, "/executions/"+url.PathEscape(id)+"/terminate", apitype.ReasonRequest{Reason: reason}, nil)
}

// ExecutionRestart reopens a finished execution: a new run from the start,
// or with fromFailure from its failed step, keeping the results before it.
func (c *Client) ExecutionRestart(ctx context.Context, id string, fromFailure bool) (*apitype.ExecutionInfo, error) {
	var out apitype.ExecutionInfo
	err := c.getJSON(ctx, http.MethodPost, "/executions/"+url.PathEscape(id)+"/restart", apitype.RestartRequest{FromFailure: fromFailure}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}
