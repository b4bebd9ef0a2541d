package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// HeaderIdempotencyKey carries the id of the execution a workflow route
// starts. Retrying a request with the same key finds the execution the
// first attempt started instead of starting another.
const HeaderIdempotencyKey = "Idempotency-Key"

// ExecutionStatusPath is the public status path of workflow executions:
// a workflow route's answer points at ExecutionStatusPath + a status link
// in its Location header, and anyone holding the link may read that one
// execution's status, output and error there. Nothing else of it (input,
// history, trace) and no other execution: the link is signed, see
// statusLink.
const ExecutionStatusPath = "/_strata/executions/"

// ExecutionReader reads an execution of a project (the flow engine).
type ExecutionReader interface {
	Get(ctx context.Context, project, id string) (*record.FlowExecution, error)
}

// The flow engine is what the server hands in.
var (
	_ WorkflowStarter = (*flow.Engine)(nil)
	_ ExecutionReader = (*flow.Engine)(nil)
)

// statusMACLen is how many bytes of the HMAC a status link carries:
// 128 bits, beyond guessing.
const statusMACLen = 16

// statusLink is the opaque part of an execution's public status path:
// base64url(HMAC(StatusKey, project, id)[:16]) "." base64url(project NUL id).
// The execution id alone is not enough (callers choose ids with
// Idempotency-Key, and ids show in logs): without the node's key nobody
// can make a link for an execution, nor change the project or id of one
// they hold and keep it valid.
func (g *Gateway) statusLink(project, id string) string {
	payload := project + "\x00" + id
	return base64.RawURLEncoding.EncodeToString(g.statusMAC(payload)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
}

func (g *Gateway) statusMAC(payload string) []byte {
	m := hmac.New(sha256.New, g.cfg.StatusKey)
	m.Write([]byte("execution status\x00" + payload))
	return m.Sum(nil)[:statusMACLen]
}

// parseStatusLink checks a status link's MAC (in constant time) and
// returns the project and execution it names.
func (g *Gateway) parseStatusLink(link string) (project, id string, ok bool) {
	macPart, payloadPart, found := strings.Cut(link, ".")
	if !found {
		return "", "", false
	}
	mac, err1 := base64.RawURLEncoding.DecodeString(macPart)
	payload, err2 := base64.RawURLEncoding.DecodeString(payloadPart)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, g.statusMAC(string(payload))) {
		return "", "", false
	}
	project, id, found = strings.Cut(string(payload), "\x00")
	return project, id, found
}

// ExecutionStatus is the body of the public status path: what the caller
// who started an execution may know of it.
type ExecutionStatus struct {
	ID       string          `json:"id"`
	Workflow string          `json:"workflow"`
	Status   string          `json:"status"`
	Output   json.RawMessage `json:"output,omitempty"`
	Error    json.RawMessage `json:"error,omitempty"`
}

// executionStatus answers GET /_strata/executions/{link}. A link that is
// malformed, forged, altered or names an execution that does not exist
// (any more) gets the same 404, so answers tell nothing about other
// executions.
func (g *Gateway) executionStatus(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		WriteError(w, Errorf(http.StatusMethodNotAllowed, "method %s not allowed on an execution's status (allowed: GET, HEAD)", r.Method), "")
		return
	}
	notFound := Errorf(http.StatusNotFound, "no such execution (a status link is the Location a workflow route answered)")
	if g.cfg.Executions == nil || len(g.cfg.StatusKey) == 0 {
		WriteError(w, notFound, "")
		return
	}
	project, id, ok := g.parseStatusLink(strings.TrimPrefix(r.URL.Path, ExecutionStatusPath))
	if !ok {
		WriteError(w, notFound, "")
		return
	}
	ex, err := g.cfg.Executions.Get(r.Context(), project, id)
	if errors.Is(err, store.ErrNotFound) {
		WriteError(w, notFound, "")
		return
	}
	if err != nil {
		g.cfg.Logger.Error("read execution status", "project", project, "execution", id, "err", err)
		WriteError(w, Errorf(http.StatusInternalServerError, "could not read the execution's status; retry"), "")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store") // the status changes
	_ = json.NewEncoder(w).Encode(ExecutionStatus{ID: ex.ID, Workflow: ex.Workflow, Status: ex.Status, Output: jsonOrNil(ex.Output), Error: jsonOrNil(ex.Error)})
}

// jsonOrNil embeds recorded JSON; bytes that are not JSON (which the
// engine never records) are left out rather than breaking the answer.
func jsonOrNil(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return nil
	}
	return b
}

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
	if g.cfg.Executions != nil && len(g.cfg.StatusKey) > 0 {
		h.Set("Location", ExecutionStatusPath+g.statusLink(rt.Project, ex.ID))
	}
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
