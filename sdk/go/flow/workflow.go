package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"

	// The strata_handle export that runs the workflows and activities.
	_ "github.com/stratahq/strata/sdk/go"
	"github.com/stratahq/strata/sdk/go/internal/dispatch"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Context is what workflow code gets instead of a context.Context: the
// invocation's context (its deadline, its values) plus the execution it
// runs for. Pass it to every step. Only the package makes one.
type Context interface {
	context.Context
	// ExecutionID is the execution's id, the same in every run of a
	// continue-as-new chain.
	ExecutionID() string
	// Workflow is the workflow's registered name.
	Workflow() string
	// Run is the run of the execution, 1 for the first, one more after
	// each ContinueAsNew.
	Run() int

	orchestration() *orchestration
}

// orchestration is the state of one orchestrator invocation: one run of
// the workflow function against the execution's history.
type orchestration struct {
	context.Context
	task *wire.FlowTask
	// suspended: the host said Suspend. The workflow function is being
	// unwound; any step it still makes unwinds it again.
	suspended bool

	// Reused by every step's host call (workflow code runs on one
	// goroutine), so a replayed step allocates little: the request being
	// sent, its answer (valid until the next call), the await's steps and
	// the encode and decode functions bound once.
	req    wire.FlowRequest
	resp   wire.FlowResponse
	steps  []int
	encode func(dst []byte) ([]byte, error)
	decode func(answer []byte) error
}

var _ Context = (*orchestration)(nil)

func (o *orchestration) ExecutionID() string           { return o.task.Execution }
func (o *orchestration) Workflow() string              { return o.task.Workflow }
func (o *orchestration) Run() int                      { return o.task.Run }
func (o *orchestration) orchestration() *orchestration { return o }

// suspend is the panic value that unwinds the workflow function when a
// step must wait; the dispatcher recovers it.
type suspend struct{}

// failure is the panic value of a step with no error result (Now, Random,
// NewID, Version) when the host refuses it: the execution fails with err.
type failure struct{ err *wire.FlowError }

// workflowFunc runs a registered workflow on a raw input. A non-nil
// *wire.FlowError fails the execution; cont is set for ContinueAsNew.
type workflowFunc func(ctx *orchestration, input json.RawMessage) (output json.RawMessage, cont json.RawMessage, fail *wire.FlowError)

var (
	workflows = map[string]workflowFunc{}
	activity  http.Handler
	installed bool
	stderr    io.Writer = os.Stderr
)

// Workflow registers fn as the workflow name of this function. Call it from
// an init function; a function may register several workflows (and one
// Activity). The first registration installs the package's handler as
// the function's default; to serve other requests from the same function,
// wrap your handler with Handler and register that with strata.HandleHTTP.
//
// The input is decoded from JSON into I (input that does not fit fails the
// execution with a "BadInput" error) and the output encoded as JSON.
func Workflow[I, O any](name string, fn func(ctx Context, in I) (O, error)) {
	if name == "" || fn == nil {
		panic("flow.Workflow: empty name or nil function")
	}
	if _, dup := workflows[name]; dup {
		panic("flow.Workflow: workflow " + name + " registered twice")
	}
	workflows[name] = func(ctx *orchestration, input json.RawMessage) (json.RawMessage, json.RawMessage, *wire.FlowError) {
		var in I
		if len(input) > 0 {
			if err := json.Unmarshal(input, &in); err != nil {
				return nil, nil, &wire.FlowError{Type: wire.FlowErrBadInput, Message: fmt.Sprintf("workflow %s: decode input: %v", name, err), NonRetryable: true}
			}
		}
		out, err := fn(ctx, in)
		if err != nil {
			var can *continueAsNew
			if errors.As(err, &can) {
				if can.err != nil {
					return nil, nil, &wire.FlowError{Type: "WorkflowError", Message: can.err.Error()}
				}
				return nil, can.input, nil
			}
			return nil, nil, toWire(err, "WorkflowError")
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, nil, &wire.FlowError{Type: "WorkflowError", Message: fmt.Sprintf("workflow %s: encode output: %v", name, err)}
		}
		return b, nil, nil
	}
	install()
}

func install() {
	if !installed {
		installed = true
		// The default, not a registration: the function may still
		// register its own handler (wrapping Handler).
		dispatch.Default = Handler(nil)
	}
}

// Handler returns the handler Workflow and Activity install: orchestrator
// invocations (header X-Strata-Flow: orchestrate) run the registered
// workflows; activity invocations (X-Strata-Flow-Execution set) run the
// registered Activity; other requests go to next, or to the Activity if
// next is nil. Use it to serve your own routes from a function that also
// registers workflows:
//
//	func init() {
//		flow.Workflow("fulfil", Fulfil)
//		strata.HandleHTTP(flow.Handler(mux))
//	}
func Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get(wire.FlowHeader) == "orchestrate":
			orchestrate(w, r)
		case activity != nil && (next == nil || r.Header.Get(wire.FlowExecutionHeader) != ""):
			activity.ServeHTTP(w, r)
		case next != nil:
			next.ServeHTTP(w, r)
		default:
			http.Error(w, "this function runs workflows: it answers orchestrator invocations only", http.StatusBadRequest)
		}
	})
}

// orchestrate runs one orchestrator invocation and answers its FlowOutcome.
func orchestrate(w http.ResponseWriter, r *http.Request) {
	var outcome wire.FlowOutcome
	task := new(wire.FlowTask)
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = json.Unmarshal(body, task)
	}
	switch {
	case err != nil:
		outcome.Error = &wire.FlowError{Type: wire.FlowErrBadInput, Message: "decode flow task: " + err.Error(), NonRetryable: true}
	case workflows[task.Workflow] == nil:
		outcome.Error = &wire.FlowError{Type: wire.FlowErrUnknown, NonRetryable: true,
			Message: fmt.Sprintf("workflow %q is not registered by this function (flow.Workflow)", task.Workflow)}
	default:
		outcome = runWorkflow(&orchestration{Context: r.Context(), task: task}, workflows[task.Workflow])
	}
	b, err := json.Marshal(&outcome)
	if err != nil { // cannot happen: every field is plain or already JSON
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// runWorkflow runs fn, turning the suspend and failure panics and any
// other panic into an outcome.
func runWorkflow(o *orchestration, fn workflowFunc) (outcome wire.FlowOutcome) {
	defer func() {
		v := recover()
		if o.suspended { // whatever happened after, the run stopped to wait
			outcome = wire.FlowOutcome{Suspended: true}
			return
		}
		switch v := v.(type) {
		case nil:
		case failure:
			outcome = wire.FlowOutcome{Error: v.err}
		default:
			fmt.Fprintf(stderr, "workflow %s (execution %s) panicked: %v\n\n%s", o.task.Workflow, o.task.Execution, v, debug.Stack())
			outcome = wire.FlowOutcome{Error: &wire.FlowError{Type: wire.FlowErrPanic, Message: fmt.Sprint(v)}}
		}
	}()
	out, cont, fail := fn(o, o.task.Input)
	return wire.FlowOutcome{Output: out, ContinueAsNew: cont, Error: fail}
}

// ContinueAsNew, returned by a workflow, ends this run and starts the
// next run of the same execution with in as its input: the history starts
// afresh, so a workflow that loops forever (a subscription, a poller)
// stays small.
//
//	return State{}, flow.ContinueAsNew(next)
func ContinueAsNew(in any) error {
	b, err := json.Marshal(in)
	if err != nil {
		err = fmt.Errorf("flow.ContinueAsNew: encode input: %w", err)
	}
	return &continueAsNew{input: b, err: err}
}

type continueAsNew struct {
	input json.RawMessage
	err   error
}

func (c *continueAsNew) Error() string {
	if c.err != nil {
		return c.err.Error()
	}
	return "flow: continue as new"
}
