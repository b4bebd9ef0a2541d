package sfn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/record"
)

type startInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
}

// execution is an EXPRESS execution about to run: its machine, parsed
// definition, names and input.
type execution struct {
	m     *record.StateMachine
	def   *asl.Definition
	name  string
	arn   string
	input []byte
}

// prepare checks a start request and returns the execution it starts.
func (h *Handler) prepare(ctx context.Context, c *caller, body []byte, sync bool) (*execution, error) {
	var in startInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	mname, err := machineName(c.project, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	m, def, err := h.runnable(ctx, c.project, mname)
	if err != nil {
		return nil, notExist(err, in.StateMachineArn)
	}
	if m.Type != record.StateMachineExpress && sync {
		return nil, errorf(errTypeNotSupported, "This operation is not supported by this type of state machine")
	}
	id := newID()
	name := in.Name
	if name == "" {
		name = id
	} else if err := checkName("execution", name); err != nil {
		return nil, err
	}
	input := []byte("{}")
	if in.Input != nil {
		input = []byte(*in.Input)
	}
	if len(input) > asl.MaxPayload {
		return nil, errorf(errValidation, "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to %d", asl.MaxPayload)
	}
	if !json.Valid(input) {
		return nil, errorf(errInvalidExecutionInput, "Invalid execution input: the input is not valid JSON")
	}
	return &execution{m: m, def: def, name: name, arn: expressArn(m.Project, m.Name, name, id), input: input}, nil
}

// maxExpressDuration is AWS's limit on an EXPRESS execution: one that
// runs longer ends TIMED_OUT. It also bounds how long a background
// execution holds memory.
const maxExpressDuration = 5 * time.Minute

var errExpressLimit = errors.New("express execution limit")

// expressLimitCause is the cause of a TIMED_OUT by maxExpressDuration.
const expressLimitCause = "The execution ran longer than the 5 minutes an EXPRESS execution may run."

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // a version 4 UUID, as AWS names executions
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// run executes x and returns its status (SUCCEEDED, FAILED, TIMED_OUT,
// ABORTED), output, or error and cause.
func (h *Handler) run(ctx context.Context, x *execution) (status string, output json.RawMessage, failure *asl.Error) {
	opts := asl.Options{Tasks: &tasks{h: h, project: x.m.Project}, ExecutionID: x.arn, ExecutionName: x.name,
		StateMachineID: machineArn(x.m.Project, x.m.Name), StateMachineName: x.m.Name}
	timedOut := false
	if x.def.TimeoutSeconds > 0 {
		// Only the execution's own timeout is TIMED_OUT; a state's
		// States.Timeout that nothing caught is FAILED.
		opts.OnEvent = func(e asl.Event) {
			if e.Type == asl.ExecutionTimedOut {
				timedOut = true
			}
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, h.maxDuration, errExpressLimit)
	defer cancel()
	out, err := asl.Run(ctx, x.def, x.input, opts)
	switch {
	case err == nil:
		return "SUCCEEDED", out, nil
	case timedOut:
		return "TIMED_OUT", nil, asl.AsError(err)
	case errors.Is(context.Cause(ctx), errExpressLimit):
		return "TIMED_OUT", nil, &asl.Error{Name: asl.ErrTimeout, Cause: expressLimitCause}
	case ctx.Err() != nil:
		return "ABORTED", nil, nil
	}
	var ae *asl.Error
	if errors.As(err, &ae) {
		return "FAILED", nil, ae
	}
	return "FAILED", nil, &asl.Error{Name: asl.ErrRuntime, Cause: err.Error()}
}

type syncOutput struct {
	ExecutionArn    string   `json:"executionArn"`
	StateMachineArn string   `json:"stateMachineArn"`
	Name            string   `json:"name"`
	StartDate       epoch    `json:"startDate"`
	StopDate        epoch    `json:"stopDate"`
	Status          string   `json:"status"`
	Error           string   `json:"error,omitempty"`
	Cause           string   `json:"cause,omitempty"`
	Input           string   `json:"input"`
	InputDetails    details  `json:"inputDetails"`
	Output          *string  `json:"output,omitempty"`
	OutputDetails   *details `json:"outputDetails,omitempty"`
	Billing         billing  `json:"billingDetails"`
}

type details struct {
	Included bool `json:"included"`
}

type billing struct {
	MemoryMB   int64 `json:"billedMemoryUsedInMB"`
	DurationMS int64 `json:"billedDurationInMilliseconds"`
}

// startSyncExecution runs an EXPRESS execution to its end and answers
// its result, as AWS's StartSyncExecution: a failed execution is a
// successful call with status FAILED, error and cause.
func (h *Handler) startSyncExecution(ctx context.Context, c *caller, body []byte) (any, error) {
	x, err := h.prepare(ctx, c, body, true)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	status, out, fail := h.run(ctx, x)
	stop := time.Now()
	res := syncOutput{ExecutionArn: x.arn, StateMachineArn: machineArn(x.m.Project, x.m.Name), Name: x.name,
		StartDate: epoch(start), StopDate: epoch(stop), Status: status, Input: string(x.input),
		InputDetails: details{Included: true},
		// AWS bills EXPRESS in 100 ms units of at least 64 MB; Strata
		// reports the real duration rounded up to 100 ms, for clients
		// that read it.
		Billing: billing{MemoryMB: 64, DurationMS: (stop.Sub(start).Milliseconds()/100 + 1) * 100}}
	if status == "SUCCEEDED" {
		s := string(out)
		res.Output, res.OutputDetails = &s, &details{Included: true}
	}
	if fail != nil {
		res.Error, res.Cause = fail.Name, fail.Cause
	}
	return res, nil
}

// startExecution starts a STANDARD execution on the flow core
// (startStandard), or an EXPRESS one in the background, and answers at
// once with its ARN. Nothing of it is kept: its result is for
// the functions it calls to record (AWS sends it to CloudWatch Logs).
func (h *Handler) startExecution(ctx context.Context, c *caller, body []byte) (any, error) {
	x, err := h.prepare(ctx, c, body, false)
	if err != nil {
		return nil, err
	}
	if x.m.Type != record.StateMachineExpress {
		return h.startStandard(ctx, c, x.m, x.name, x.input)
	}
	start := time.Now()
	h.launch(x)
	return struct {
		ExecutionArn string `json:"executionArn"`
		StartDate    epoch  `json:"startDate"`
	}{x.arn, epoch(start)}, nil
}

// launch runs x in the background, logging an execution that did not
// succeed: nothing else of it is kept.
func (h *Handler) launch(x *execution) {
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		status, _, fail := h.run(h.ctx, x)
		if status != "SUCCEEDED" {
			attrs := []any{"execution", x.arn, "status", status}
			if fail != nil {
				attrs = append(attrs, "error", fail.Name, "cause", fail.Cause)
			}
			h.cfg.Logger.Warn("express execution did not succeed", attrs...)
		}
	}()
}

type executionInput struct {
	ExecutionArn    string `json:"executionArn"`
	StateMachineArn string `json:"stateMachineArn"`
}
