package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Executions is the flow engine as the STANDARD operations use it;
// *flow.Engine implements it. Every method takes the caller's project,
// so an execution of another project is an unknown one.
type Executions interface {
	Start(ctx context.Context, p flow.StartParams) (*record.FlowExecution, bool, error)
	Get(ctx context.Context, project, id string) (*record.FlowExecution, error)
	List(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error)
	History(ctx context.Context, project, id string, run int) ([]record.FlowEvent, error)
	Signal(ctx context.Context, project, id, name string, value []byte) error
	Terminate(ctx context.Context, project, id, reason string) error
	Redrive(ctx context.Context, project, id string, forget []string, token string) (*record.FlowExecution, error)
}

// More error types of the execution operations.
const (
	errExecutionDoesNotExist = "ExecutionDoesNotExist"
	errExecutionExists       = "ExecutionAlreadyExists"
	errTaskDoesNotExist      = "TaskDoesNotExist"
	errTaskTimedOut          = "TaskTimedOut"
	errInvalidOutput         = "InvalidOutput"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// startStandard starts a STANDARD execution on the flow core. A name in
// use by a running execution with the same input answers that execution
// (AWS's idempotency); any other use of the name is ExecutionAlreadyExists.
func (h *Handler) startStandard(ctx context.Context, c *caller, m *record.StateMachine, name string, input []byte) (any, error) {
	if h.cfg.Executions == nil {
		return nil, errorf(errTypeNotSupported, "STANDARD executions need the flow engine, which this server does not run")
	}
	id := executionID(c.project, m.Name, name)
	// The definition is recorded with the start: the execution runs the
	// machine as it was when it started, whatever updates come later.
	def, _ := json.Marshal(m.Definition)
	ex, created, err := h.cfg.Executions.Start(ctx, flow.StartParams{Workflow: workflowName(c.project, m.Name), ID: id, Input: input, Project: c.project,
		Records: []flow.Record{{Key: keyDefinition, Value: def}}})
	if err != nil {
		if errors.Is(err, flow.ErrIDTaken) {
			return nil, errorf(errExecutionExists, "Execution Already Exists: '%s'", executionArn(c.project, m.Name, name))
		}
		return nil, err
	}
	if !created && (ex.Status != record.FlowRunning || !sameJSON(ex.Input, input)) {
		return nil, errorf(errExecutionExists, "Execution Already Exists: '%s'", executionArn(c.project, m.Name, name))
	}
	return struct {
		ExecutionArn string `json:"executionArn"`
		StartDate    epoch  `json:"startDate"`
	}{executionArn(c.project, m.Name, name), epoch(ex.CreatedAt)}, nil
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	ja, _ := json.Marshal(x)
	jb, _ := json.Marshal(y)
	return string(ja) == string(jb)
}

// execution reads the STANDARD execution an ARN names, in the caller's
// project. EXPRESS ARNs are refused as AWS refuses them.
func (h *Handler) execution(ctx context.Context, c *caller, arn string) (*record.FlowExecution, string, string, error) {
	if arn == "" {
		return nil, "", "", errorf(errMissingParameter, "Missing required parameter: executionArn")
	}
	parts := strings.Split(arn, ":")
	if len(parts) == 9 && parts[0] == "arn" && parts[2] == "states" && parts[5] == "express" {
		return nil, "", "", errorf(errInvalidArn, "Invalid Arn: 'Resource type not valid in this context: express' (Strata keeps EXPRESS executions no more than AWS does)")
	}
	if len(parts) != 8 || parts[0] != "arn" || parts[2] != "states" || parts[5] != "execution" || parts[6] == "" || parts[7] == "" {
		return nil, "", "", errorf(errInvalidArn, "Invalid Arn: 'Resource type not valid in this context: %s'", resourceType(parts))
	}
	if parts[3] != Region || parts[4] != Account(c.project) || h.cfg.Executions == nil {
		return nil, "", "", errorf(errExecutionDoesNotExist, "Execution Does Not Exist: '%s'", arn)
	}
	ex, err := h.cfg.Executions.Get(ctx, c.project, executionID(c.project, parts[6], parts[7]))
	if err != nil {
		if isNotFound(err) {
			return nil, "", "", errorf(errExecutionDoesNotExist, "Execution Does Not Exist: '%s'", arn)
		}
		return nil, "", "", err
	}
	return ex, parts[6], parts[7], nil
}

// awsStatus maps a flow execution's status to AWS's, with the error and
// cause of one that did not succeed.
func awsStatus(ex *record.FlowExecution) (status, errName, cause string) {
	var fe wire.FlowError
	if len(ex.Error) > 0 {
		_ = json.Unmarshal(ex.Error, &fe)
	}
	switch ex.Status {
	case record.FlowRunning:
		return "RUNNING", "", ""
	case record.FlowCompleted:
		return "SUCCEEDED", "", ""
	case record.FlowFailed:
		var d struct{ Status string }
		_ = json.Unmarshal(fe.Details, &d)
		if d.Status == "TIMED_OUT" {
			return "TIMED_OUT", fe.Type, fe.Message
		}
		return "FAILED", fe.Type, fe.Message
	default: // canceled, terminated: StopExecution
		var r stopReason
		if json.Unmarshal([]byte(fe.Message), &r) == nil {
			return "ABORTED", r.Error, r.Cause
		}
		return "ABORTED", "", fe.Message
	}
}

// stopReason is StopExecution's error and cause, carried as the flow
// termination's reason.
type stopReason struct {
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
}

type describeOutput struct {
	ExecutionArn    string   `json:"executionArn"`
	StateMachineArn string   `json:"stateMachineArn"`
	Name            string   `json:"name"`
	Status          string   `json:"status"`
	StartDate       epoch    `json:"startDate"`
	StopDate        *epoch   `json:"stopDate,omitempty"`
	Input           string   `json:"input"`
	InputDetails    details  `json:"inputDetails"`
	Output          *string  `json:"output,omitempty"`
	OutputDetails   *details `json:"outputDetails,omitempty"`
	Error           string   `json:"error,omitempty"`
	Cause           string   `json:"cause,omitempty"`
	RedriveCount    int      `json:"redriveCount"`
	RedriveDate     *epoch   `json:"redriveDate,omitempty"`
	RedriveStatus   string   `json:"redriveStatus"`
	RedriveReason   string   `json:"redriveStatusReason,omitempty"`
}

func (h *Handler) describeExecution(ctx context.Context, c *caller, body []byte) (any, error) {
	var in executionInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ex, machine, name, err := h.execution(ctx, c, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	status, errName, cause := awsStatus(ex)
	out := describeOutput{ExecutionArn: in.ExecutionArn, StateMachineArn: machineArn(c.project, machine), Name: name,
		Status: status, StartDate: epoch(ex.CreatedAt), Input: inputText(ex.Input), InputDetails: details{Included: true},
		Error: errName, Cause: cause}
	if !ex.ClosedAt.IsZero() {
		t := epoch(ex.ClosedAt)
		out.StopDate = &t
	}
	if status == "SUCCEEDED" {
		s := string(ex.Output)
		out.Output, out.OutputDetails = &s, &details{Included: true}
	}
	evs, err := h.cfg.Executions.History(ctx, c.project, ex.ID, 0)
	if err != nil {
		return nil, err
	}
	rs := redrivesOf(evs)
	out.RedriveCount = rs.count
	if !rs.last.IsZero() {
		t := epoch(rs.last)
		out.RedriveDate = &t
	}
	out.RedriveStatus, out.RedriveReason = redriveStatus(ex, status, cause, rs)
	return out, nil
}

func inputText(b []byte) string {
	if len(b) == 0 || string(b) == "null" {
		return "{}"
	}
	return string(b)
}

type listExecutionsInput struct {
	StateMachineArn string `json:"stateMachineArn"`
	StatusFilter    string `json:"statusFilter"`
	MaxResults      int    `json:"maxResults"`
	NextToken       string `json:"nextToken"`
}

type executionItem struct {
	ExecutionArn    string `json:"executionArn"`
	StateMachineArn string `json:"stateMachineArn"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	StartDate       epoch  `json:"startDate"`
	StopDate        *epoch `json:"stopDate,omitempty"`
}

// listExecutions lists a STANDARD machine's executions, newest first;
// AWS refuses it for EXPRESS machines.
func (h *Handler) listExecutions(ctx context.Context, c *caller, body []byte) (any, error) {
	var in listExecutionsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	m, err := h.machine(ctx, c, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if m.Type == record.StateMachineExpress {
		return nil, errorf(errTypeNotSupported, "This operation is not supported by this type of state machine")
	}
	if in.MaxResults < 0 || in.MaxResults > 1000 {
		return nil, errorf(errValidation, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000", in.MaxResults)
	}
	limit := in.MaxResults
	if limit == 0 {
		limit = 100
	}
	var flowStatus string
	switch in.StatusFilter {
	case "":
	case "RUNNING":
		flowStatus = record.FlowRunning
	case "SUCCEEDED":
		flowStatus = record.FlowCompleted
	case "FAILED", "TIMED_OUT":
		flowStatus = record.FlowFailed
	case "ABORTED":
		flowStatus = record.FlowTerminated
	default:
		return nil, errorf(errValidation, "1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]", in.StatusFilter)
	}
	out := struct {
		Executions []executionItem `json:"executions"`
		NextToken  string          `json:"nextToken,omitempty"`
	}{Executions: []executionItem{}}
	if h.cfg.Executions == nil {
		return out, nil
	}
	before := in.NextToken
	for len(out.Executions) < limit {
		page, err := h.cfg.Executions.List(ctx, store.FlowListParams{Project: c.project, Workflow: workflowName(c.project, m.Name), Status: flowStatus, Before: before, Limit: limit + 1})
		if err != nil {
			return nil, err
		}
		for i := range page {
			ex := &page[i]
			if len(out.Executions) == limit {
				out.NextToken = before
				return out, nil
			}
			before = ex.ID
			status, _, _ := awsStatus(ex)
			if in.StatusFilter != "" && status != in.StatusFilter {
				continue
			}
			_, _, name, _ := parseExecutionID(ex.ID)
			it := executionItem{ExecutionArn: executionArn(c.project, m.Name, name), StateMachineArn: machineArn(c.project, m.Name),
				Name: name, Status: status, StartDate: epoch(ex.CreatedAt)}
			if !ex.ClosedAt.IsZero() {
				t := epoch(ex.ClosedAt)
				it.StopDate = &t
			}
			out.Executions = append(out.Executions, it)
		}
		if len(page) < limit+1 {
			break
		}
	}
	return out, nil
}

// stopExecution aborts a running STANDARD execution: its Task calls in
// flight are cut and nothing of it runs again.
func (h *Handler) stopExecution(ctx context.Context, c *caller, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		Error        string `json:"error"`
		Cause        string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ex, _, _, err := h.execution(ctx, c, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if ex.Status == record.FlowRunning {
		reason, _ := json.Marshal(stopReason{Error: in.Error, Cause: in.Cause})
		if err := h.cfg.Executions.Terminate(ctx, c.project, ex.ID, string(reason)); err != nil && !errors.Is(err, store.ErrClosed) {
			return nil, err
		}
		// A .sync parent hears that its child was aborted.
		if evs, err := h.cfg.Executions.History(ctx, c.project, ex.ID, 0); err == nil {
			recs := map[string]json.RawMessage{}
			for _, ev := range evs {
				if ev.Type == flow.EvRecorded {
					recs[ev.Name] = ev.Data
				}
			}
			if err := h.reportToParent(ctx, c.project, recordedExecution{id: ex.ID, workflow: ex.Workflow, input: []byte(inputText(ex.Input)), start: ex.CreatedAt,
				records: func(k string) (json.RawMessage, bool) { v, ok := recs[k]; return v, ok }},
				"ABORTED", nil, &wire.FlowError{Type: in.Error, Message: in.Cause}); err != nil {
				h.cfg.Logger.Warn("state machine: telling the parent of a stopped execution failed", "execution", ex.ID, "err", err)
			}
		}
	}
	return struct {
		StopDate epoch `json:"stopDate"`
	}{epoch(time.Now())}, nil
}

type taskTokenInput struct {
	TaskToken string  `json:"taskToken"`
	Output    *string `json:"output"`
	Error     string  `json:"error"`
	Cause     string  `json:"cause"`
}

// callbackTarget finds the running execution and the callback a token
// names, in the caller's project. A token that does not decode is
// InvalidToken; one of an execution the caller cannot see, or of a
// callback already completed or of a finished execution, is
// TaskTimedOut as at AWS ("Task Timed Out" for a token no longer valid).
func (h *Handler) callbackTarget(ctx context.Context, c *caller, tok string) (string, string, error) {
	if tok == "" {
		return "", "", errorf(errMissingParameter, "Missing required parameter: taskToken")
	}
	if len(tok) > 2048 {
		return "", "", errorf(errValidation, "1 validation error detected: Value at 'taskToken' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	id, key, ok := wire.ParseTaskToken(tok)
	if !ok {
		return "", "", errorf(errInvalidToken, "Invalid Token: 'Invalid token'")
	}
	if h.cfg.Executions == nil {
		return "", "", errorf(errTaskDoesNotExist, "Task Does Not Exist")
	}
	ex, err := h.cfg.Executions.Get(ctx, c.project, id)
	if err != nil {
		if isNotFound(err) {
			return "", "", errorf(errTaskDoesNotExist, "Task Does Not Exist: the token names no execution of this project")
		}
		return "", "", err
	}
	if ex.Status != record.FlowRunning {
		return "", "", errorf(errTaskTimedOut, "Task Timed Out: 'Provided task does not exist anymore'")
	}
	evs, err := h.cfg.Executions.History(ctx, c.project, id, 0)
	if err != nil {
		return "", "", err
	}
	// Completed: its outcome is recorded, and no redrive dropped the
	// record since (a redriven callback waits under the same token).
	done := false
	for _, ev := range evs {
		switch {
		case ev.Type == flow.EvRecorded && ev.Name == key:
			done = true
		case ev.Type == flow.EvRestarted && done:
			forget, _ := flow.Restarted(ev)
			done = !slices.Contains(forget, key)
		}
	}
	if done {
		return "", "", errorf(errTaskTimedOut, "Task Timed Out: 'Provided task does not exist anymore'")
	}
	return id, key, nil
}

func (h *Handler) sendTaskSuccess(ctx context.Context, c *caller, body []byte) (any, error) {
	var in taskTokenInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Output == nil {
		return nil, errorf(errMissingParameter, "Missing required parameter: output")
	}
	if len(*in.Output) > 256*1024 {
		return nil, errorf(errValidation, "1 validation error detected: Value at 'output' failed to satisfy constraint: Member must have length less than or equal to 262144")
	}
	if !json.Valid([]byte(*in.Output)) {
		return nil, errorf(errInvalidOutput, "Invalid Output: the output is not valid JSON")
	}
	id, key, err := h.callbackTarget(ctx, c, in.TaskToken)
	if err != nil {
		return nil, err
	}
	v, _ := json.Marshal(recorded{Output: json.RawMessage(*in.Output)})
	return struct{}{}, h.signalTask(ctx, c, id, callbackSignal(key), v)
}

func (h *Handler) sendTaskFailure(ctx context.Context, c *caller, body []byte) (any, error) {
	var in taskTokenInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Error) > 256 || len(in.Cause) > 32768 {
		return nil, errorf(errValidation, "1 validation error detected: error is at most 256 characters and cause at most 32768")
	}
	id, key, err := h.callbackTarget(ctx, c, in.TaskToken)
	if err != nil {
		return nil, err
	}
	name := in.Error
	if name == "" {
		name = "States.TaskFailed" // what a failure without an error name is caught as
	}
	v, _ := json.Marshal(recorded{Error: name, Cause: in.Cause})
	return struct{}{}, h.signalTask(ctx, c, id, callbackSignal(key), v)
}

func (h *Handler) sendTaskHeartbeat(ctx context.Context, c *caller, body []byte) (any, error) {
	var in taskTokenInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	id, key, err := h.callbackTarget(ctx, c, in.TaskToken)
	if err != nil {
		return nil, err
	}
	v, _ := json.Marshal(time.Now().UTC())
	return struct{}{}, h.signalTask(ctx, c, id, heartbeatSignal(key), v)
}

func (h *Handler) signalTask(ctx context.Context, c *caller, id, name string, v []byte) error {
	err := h.cfg.Executions.Signal(ctx, c.project, id, name, v)
	if errors.Is(err, store.ErrClosed) {
		return errorf(errTaskTimedOut, "Task Timed Out: 'Provided task does not exist anymore'")
	}
	return err
}

// pageToken parses a history page token (an offset).
func pageToken(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errorf(errInvalidToken, "Invalid Token: 'Invalid nextToken'")
	}
	return n, nil
}
