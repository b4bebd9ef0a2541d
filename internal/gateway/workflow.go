package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
)

// HeaderIdempotencyKey carries the id of the execution a workflow route
// starts. Retrying a request with the same key finds the execution the
// first attempt started instead of starting another.
const HeaderIdempotencyKey = "Idempotency-Key"

// ExecutionsPath is where the admin API serves executions; a workflow
// route's answer points there in its Location header.
const ExecutionsPath = "/_strata/api/v1/executions/"

// The flow engine is what the server hands in.
var _ WorkflowStarter = (*flow.Engine)(nil)

// StartResponse is the body of a workflow route's answer.
type StartResponse struct {
	ID       string `json:"id"`
	Workflow string `json:"workflow"`
	Status   string `json:"status"`
	// Created is false when an execution with the id existed already (the
	// same Idempotency-Key was sent before): nothing new was started.
	Created bool `json:"created"`
}

// startWorkflow starts an execution of the route's workflow with the
// request body as its input, and answers 202 with its id as soon as the
// execution is stored (200 when the Idempotency-Key names an execution
// that exists). Nothing of the workflow runs before the answer.
func (g *Gateway) startWorkflow(w http.ResponseWriter, r *http.Request, rt *record.Route) {
	if g.cfg.Workflows == nil {
		WriteError(w, Errorf(http.StatusServiceUnavailable, "workflow routes are not available on this node"), "")
		return
	}
	if _, loading := g.stillLoading(); loading {
		// The workflow index is built from the loaded functions, so
		// before that an existing workflow would look unknown (404).
		WriteError(w, &StatusError{Code: http.StatusServiceUnavailable, Err: fmt.Errorf(
			"workflow %s: this node is still loading its deployed functions; retry shortly: %w", rt.Workflow, invoke.ErrLoading)}, "")
		return
	}
	input, err := readInput(w, r, rt.Workflow, min(g.cfg.MaxBody, flow.MaxPayload))
	if err != nil {
		WriteError(w, err, "")
		return
	}
	ex, created, err := g.cfg.Workflows.Start(r.Context(), flow.StartParams{
		Workflow:    rt.Workflow,
		ID:          r.Header.Get(HeaderIdempotencyKey),
		Input:       input,
		TraceParent: r.Header.Get(HeaderTraceparent),
		Project:     rt.Project,
	})
	if err != nil {
		WriteError(w, err, "") // the engine's errors name the workflow
		return
	}
	res := StartResponse{ID: ex.ID, Workflow: ex.Workflow, Status: ex.Status, Created: created}
	if res.Workflow == "" {
		res.Workflow = rt.Workflow
	}
	h := w.Header()
	h.Set("Location", ExecutionsPath+url.PathEscape(ex.ID))
	h.Set("Content-Type", "application/json")
	code := http.StatusAccepted
	if !created {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(res)
}

// readInput reads a workflow's input from a request body of up to limit
// bytes: JSON, or nothing (null).
func readInput(w http.ResponseWriter, r *http.Request, workflow string, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, Errorf(http.StatusRequestEntityTooLarge, "request body of %d bytes is over the %d byte limit of a workflow's input", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return nil, bodyError(err, limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	if err := json.Unmarshal(body, new(json.RawMessage)); err != nil {
		// The decoder's message names a character and an offset, never
		// the body.
		return nil, Errorf(http.StatusBadRequest, "the request body is the input of workflow %q and must be JSON (or empty for null): %v", workflow, err)
	}
	return body, nil
}
