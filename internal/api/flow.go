package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Flows is what the API needs from the workflow engine (package flow).
// Every method that takes an execution id takes the project the caller
// may reach; the API's tokens reach every project (flow.AllProjects)
// until tokens are scoped to projects, and then pass the token's.
type Flows interface {
	Start(ctx context.Context, p flow.StartParams) (exec *record.FlowExecution, created bool, err error)
	Get(ctx context.Context, project, id string) (*record.FlowExecution, error)
	List(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error)
	History(ctx context.Context, project, id string, run int) ([]record.FlowEvent, error)
	Signal(ctx context.Context, project, id, name string, value []byte) error
	Cancel(ctx context.Context, project, id, reason string) error
	Terminate(ctx context.Context, project, id, reason string) error
	Restart(ctx context.Context, project, id string, fromFailure bool) (*record.FlowExecution, error)
}

var _ Flows = (*flow.Engine)(nil)

// maxStartBytes bounds a start request: the input may use all of
// flow.MaxPayload, the rest is the envelope.
const maxStartBytes = flow.MaxPayload + 64<<10

// maxListLimit bounds one page of GET /executions.
const maxListLimit = 1000

// routeFlows mounts the workflow endpoints. Engine errors keep their
// sentinels (flow.ErrUnknownWorkflow, store.ErrClosed, ...), which
// gateway.Status maps to 404, 400, 413 and 409. The engine names the
// execution in the errors of Signal, Cancel, Terminate and Restart; Get
// and History return the store's, so their handlers add the id.
//
// A project-scoped token reaches its own project's executions only: the
// routes pass the engine the token's project (flowProject), which scopes
// every lookup; another project's execution is 404, as if it did not
// exist, and a listing is filtered to the token's project.
func (a *API) routeFlows() {
	a.handleToken("POST /executions", AnyProject, a.executionStart)
	a.handleToken("GET /executions", AnyProject, a.executionList)
	a.handleToken("GET /executions/{id}", AnyProject, a.executionGet)
	a.handleToken("GET /executions/{id}/history", AnyProject, a.executionHistory)
	a.handleToken("POST /executions/{id}/signals/{name}", AnyProject, a.executionSignal)
	a.handleToken("POST /executions/{id}/cancel", AnyProject, a.executionCancel)
	a.handleToken("POST /executions/{id}/terminate", AnyProject, a.executionTerminate)
	a.handleToken("POST /executions/{id}/restart", AnyProject, a.executionRestart)
}

// flowProject is the project the engine is to scope tok's requests to:
// flow.AllProjects for a token of every project.
func flowProject(tok record.Token) string {
	if tok.Project == "" {
		return flow.AllProjects
	}
	return tok.Project
}

func executionInfo(e *record.FlowExecution) apitype.ExecutionInfo {
	return apitype.ExecutionInfo{ID: e.ID, Workflow: e.Workflow, Function: e.Function, Project: e.Project, Run: e.Run,
		Status: e.Status, Input: rawJSON(e.Input), Output: rawJSON(e.Output), Error: rawJSON(e.Error),
		TraceID: e.TraceID, ParentID: e.ParentID, ParentStep: e.ParentStep, HistoryLen: e.HistoryLen,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, ClosedAt: e.ClosedAt}
}

// rawJSON embeds recorded JSON as it is. Bytes that are not JSON (which
// the engine never records) are shown as a JSON string rather than
// breaking the whole answer after its status was sent.
func rawJSON(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	if !json.Valid(b) {
		s, _ := json.Marshal(string(b))
		return s
	}
	return b
}

// flows is the engine, or 503 on a server that runs without workflows.
func (a *API) flows() (Flows, error) {
	if a.cfg.Flows == nil {
		return nil, gateway.Errorf(http.StatusServiceUnavailable, "workflows are not enabled on this server")
	}
	return a.cfg.Flows, nil
}

// readBody reads at most limit bytes of a request body; more is a 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, gateway.Errorf(http.StatusRequestEntityTooLarge, "%s over the %d byte limit", what, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return b, nil
}

// decodeOptional decodes a small JSON object body into v; an empty body
// leaves v as it is.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any, usage string) error {
	b, err := readBody(w, r, 1<<16, "request")
	if err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return gateway.Errorf(http.StatusBadRequest, "%s: %v", usage, err)
	}
	return nil
}

func (a *API) executionStart(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	b, err := readBody(w, r, maxStartBytes, "start request")
	if err != nil {
		return err
	}
	var req apitype.ExecutionStart
	if err := json.Unmarshal(b, &req); err != nil {
		return gateway.Errorf(http.StatusBadRequest, `start wants {"workflow": "name", "id": "optional id", "input": JSON}: %v`, err)
	}
	if req.Workflow == "" {
		return gateway.Errorf(http.StatusBadRequest, `start wants {"workflow": "name", ...}: workflow is missing`)
	}
	exec, created, err := fl.Start(r.Context(), flow.StartParams{Workflow: req.Workflow, ID: req.ID, Input: req.Input,
		TraceParent: r.Header.Get("Traceparent"), Project: flowProject(tok)})
	if err != nil {
		return err // the engine names the workflow
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
		a.cfg.Logger.Info("workflow started", "workflow", exec.Workflow, "execution", exec.ID)
	}
	return writeJSON(w, code, executionInfo(exec))
}

// executionStatuses are the values GET /executions filters on.
var executionStatuses = map[string]bool{record.FlowRunning: true, record.FlowCompleted: true, record.FlowFailed: true,
	record.FlowCanceled: true, record.FlowTerminated: true}

func (a *API) executionList(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	p := store.FlowListParams{Project: q.Get("project"), Workflow: q.Get("workflow"), Status: q.Get("status"),
		ParentID: q.Get("parent"), Before: q.Get("before")}
	if tok.Project != "" {
		if p.Project != "" && p.Project != tok.Project {
			return a.allow(tok, p.Project)
		}
		p.Project = tok.Project
	}
	if p.Status != "" && !executionStatuses[p.Status] {
		return gateway.Errorf(http.StatusBadRequest, "status %q: want running, completed, failed, canceled or terminated", p.Status)
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxListLimit {
			return gateway.Errorf(http.StatusBadRequest, "limit must be 1..%d", maxListLimit)
		}
		p.Limit = n
	}
	list, err := fl.List(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]apitype.ExecutionInfo, 0, len(list))
	for i := range list {
		out = append(out, executionInfo(&list[i]))
	}
	return writeJSON(w, http.StatusOK, apitype.ExecutionList{Executions: out})
}

func (a *API) executionGet(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	exec, err := fl.Get(r.Context(), flowProject(tok), id)
	if err != nil {
		return err // the engine names the execution
	}
	return writeJSON(w, http.StatusOK, executionInfo(exec))
}

func (a *API) executionHistory(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	run := 0
	if s := r.URL.Query().Get("run"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return gateway.Errorf(http.StatusBadRequest, "run must be a run number ≥ 1 (0 or absent: the current run)")
		}
		run = n
	}
	evs, err := fl.History(r.Context(), flowProject(tok), id, run)
	if err != nil {
		return err // the engine names the execution
	}
	out := make([]apitype.ExecutionEvent, 0, len(evs))
	for _, e := range evs {
		out = append(out, apitype.ExecutionEvent{Seq: e.Seq, Type: e.Type, Step: e.Step, Name: e.Name, Data: rawJSON(e.Data), Time: e.Time})
	}
	return writeJSON(w, http.StatusOK, apitype.ExecutionHistory{Events: out})
}

// executionSignal sends the request body, a JSON value (empty: null), as
// a signal. 202: the signal is stored; the execution consumes it when its
// code waits for it.
func (a *API) executionSignal(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	id, name := r.PathValue("id"), r.PathValue("name")
	value, err := readBody(w, r, flow.MaxPayload, "signal value")
	if err != nil {
		return err
	}
	if len(value) == 0 {
		value = []byte("null")
	}
	if !json.Valid(value) {
		return gateway.Errorf(http.StatusBadRequest, "signal %s: the body must be a JSON value (a string needs quotes)", name)
	}
	if err := fl.Signal(r.Context(), flowProject(tok), id, name, value); err != nil {
		return fmt.Errorf("signal %s: %w", name, err)
	}
	return writeJSON(w, http.StatusAccepted, apitype.SignalAccepted{ID: id, Signal: name})
}

func (a *API) executionCancel(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var body apitype.ReasonRequest
	if err := decodeOptional(w, r, &body, `cancel wants {"reason": "..."}`); err != nil {
		return err
	}
	if err := fl.Cancel(r.Context(), flowProject(tok), id, body.Reason); err != nil {
		return fmt.Errorf("cancel: %w", err)
	}
	a.cfg.Logger.Info("workflow cancel requested", "execution", id)
	return writeJSON(w, http.StatusAccepted, apitype.ExecutionAck{ID: id, Status: "cancel requested"})
}

func (a *API) executionTerminate(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var body apitype.ReasonRequest
	if err := decodeOptional(w, r, &body, `terminate wants {"reason": "..."}`); err != nil {
		return err
	}
	if err := fl.Terminate(r.Context(), flowProject(tok), id, body.Reason); err != nil {
		return fmt.Errorf("terminate: %w", err)
	}
	a.cfg.Logger.Info("workflow terminated", "execution", id)
	return writeJSON(w, http.StatusOK, apitype.ExecutionAck{ID: id, Status: record.FlowTerminated})
}

func (a *API) executionRestart(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	fl, err := a.flows()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	var body apitype.RestartRequest
	if err := decodeOptional(w, r, &body, `restart wants {"from_failure": true|false}`); err != nil {
		return err
	}
	exec, err := fl.Restart(r.Context(), flowProject(tok), id, body.FromFailure)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	a.cfg.Logger.Info("workflow restarted", "execution", id, "run", exec.Run, "from_failure", body.FromFailure)
	return writeJSON(w, http.StatusOK, executionInfo(exec))
}
