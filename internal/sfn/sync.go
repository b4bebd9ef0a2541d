package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// SyncResult is the end of an EXPRESS execution that StartSync ran.
type SyncResult struct {
	ExecutionArn string
	Name         string
	Status       string          // SUCCEEDED, FAILED, TIMED_OUT or ABORTED
	Output       json.RawMessage // when SUCCEEDED
	Error, Cause string          // when not
	Start, Stop  time.Time
}

// Error is a request StartSync refuses, with Step Functions' type name
// (StateMachineDoesNotExist, StateMachineTypeNotSupported,
// InvalidExecutionInput, ...) and the HTTP status the AWS protocol gives it.
type Error struct {
	Type    string
	Message string
	Status  int
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// StartSync runs an EXPRESS execution of machine, a state machine of
// project, to its end, as StartSyncExecution does: the same checks (the
// input, the machine's type) and the same run, with Task states invoking
// functions of project only. name "" is a generated one. A refused request
// is an *Error; a failed execution is a result with its error and cause.
// The admin API (strata sm start --sync) uses it.
func (h *Handler) StartSync(ctx context.Context, project, machine, name string, input []byte) (*SyncResult, error) {
	body, err := startBody(project, machine, name, input)
	if err != nil {
		return nil, err
	}
	x, err := h.prepare(ctx, &caller{project: project}, body, true)
	if err != nil {
		return nil, exported(err)
	}
	res := &SyncResult{ExecutionArn: x.arn, Name: x.name, Start: time.Now()}
	status, out, fail := h.run(ctx, x)
	res.Stop, res.Status = time.Now(), status
	if status == "SUCCEEDED" {
		res.Output = out
	}
	if fail != nil {
		res.Error, res.Cause = fail.Name, fail.Cause
	}
	return res, nil
}

// Start starts an execution of machine, as StartExecution does, and
// returns its ARN: a STANDARD execution on the flow core, or an EXPRESS
// one in the background, of which nothing is kept.
func (h *Handler) Start(ctx context.Context, project, machine, name string, input []byte) (string, error) {
	body, err := startBody(project, machine, name, input)
	if err != nil {
		return "", err
	}
	c := &caller{project: project}
	x, err := h.prepare(ctx, c, body, false)
	if err != nil {
		return "", exported(err)
	}
	if x.m.Type != record.StateMachineExpress {
		if _, err := h.startStandard(ctx, c, x.m, x.name, x.input); err != nil {
			return "", exported(err)
		}
		return executionArn(project, x.m.Name, x.name), nil
	}
	h.launch(x)
	return x.arn, nil
}

// Call runs one Step Functions operation (its AWS name) as a caller of
// project, with in as its JSON input, and returns its JSON output: the
// admin API's execution commands go through the same code as the AWS
// API. A refused request is an *Error.
func (h *Handler) Call(ctx context.Context, project, op string, in any) (json.RawMessage, error) {
	o, ok := h.ops[op]
	if !ok {
		return nil, &Error{Type: errUnknownOperation, Message: "unknown operation " + op, Status: http.StatusBadRequest}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	out, err := o.fn(ctx, &caller{project: project}, body)
	if err != nil {
		return nil, exported(err)
	}
	return json.Marshal(out)
}

// ExecutionArn is the ARN of the STANDARD execution name of project's
// machine.
func ExecutionArn(project, machine, name string) string { return executionArn(project, machine, name) }

func startBody(project, machine, name string, input []byte) ([]byte, error) {
	in := startInput{StateMachineArn: machineArn(project, machine), Name: name}
	if input != nil {
		s := string(input)
		in.Input = &s
	}
	return json.Marshal(in)
}

// Forget drops project's machine from the cache executions start from,
// so that a deploy that changed or removed it is seen at once on this
// node (other nodes see it when their cache entry expires).
func (h *Handler) Forget(project, machine string) { h.forget(project, machine) }

// exported turns the handler's protocol error into an *Error.
func exported(err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		status := ae.Status
		if ae.Type == errDoesNotExist || ae.Type == errExecutionDoesNotExist {
			status = http.StatusNotFound // for the admin API, which is not bound to AWS's 400
		}
		return &Error{Type: ae.Type, Message: ae.Message, Status: status}
	}
	return err
}

// MachineArn is the ARN of project's state machine name, as the Step
// Functions API names it.
func MachineArn(project, name string) string { return machineArn(project, name) }
