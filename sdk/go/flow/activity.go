package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/stratahq/strata/sdk/go/wire"
)

// Activity registers fn as this function's handler for steps: the request
// body (the step's input, JSON) is decoded into I, and fn's output is
// answered as JSON. An error fails the attempt with its type (the *Error's
// Type if fn returned one, else "ActivityError"); NonRetryable(err) ends
// the retries. Input that does not decode into I fails the step at once
// ("BadInput"). Call it from an init function, once.
//
// Activities run at least once: see IdempotencyKey.
func Activity[I, O any](fn func(ctx context.Context, in I) (O, error)) {
	if fn == nil {
		panic("flow.Activity: nil function")
	}
	if activity != nil {
		panic("flow.Activity: registered twice")
	}
	activity = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in I
		body, err := io.ReadAll(r.Body)
		if err == nil && len(body) > 0 {
			err = json.Unmarshal(body, &in)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, &wire.FlowError{Type: wire.FlowErrBadInput, Message: "decode input: " + err.Error(), NonRetryable: true})
			return
		}
		ctx := r.Context()
		if info, ok := infoFrom(r.Header); ok {
			ctx = context.WithValue(ctx, infoKey{}, info)
		}
		out, fe := runActivity(ctx, fn, in)
		if fe != nil {
			writeError(w, http.StatusInternalServerError, fe)
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			writeError(w, http.StatusInternalServerError, &wire.FlowError{Type: "ActivityError", Message: "encode output: " + err.Error(), NonRetryable: true})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	install()
}

// runActivity calls fn; its error or panic becomes the attempt's error.
// A panic may be retried like any failure; its stack goes to stderr.
func runActivity[I, O any](ctx context.Context, fn func(context.Context, I) (O, error), in I) (out O, fe *wire.FlowError) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			fmt.Fprintf(stderr, "activity panicked: %v\n\n%s", v, debug.Stack())
			fe = &wire.FlowError{Type: wire.FlowErrPanic, Message: fmt.Sprint(v)}
		}
	}()
	out, err := fn(ctx, in)
	if err != nil {
		return out, toWire(err, "ActivityError")
	}
	return out, nil
}

func writeError(w http.ResponseWriter, status int, fe *wire.FlowError) {
	b, _ := json.Marshal(struct {
		Error *wire.FlowError `json:"error"`
	}{fe})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Info describes the step an activity invocation runs.
type Info struct {
	Execution string // the execution's id
	Workflow  string // the workflow's name
	Step      int    // the step in the execution
	Attempt   int    // 1 for the first attempt
}

type infoKey struct{}

// ActivityInfo returns the step the activity runs for, and false when ctx
// is not an activity's (a direct invocation, not a workflow step).
func ActivityInfo(ctx context.Context) (Info, bool) {
	info, ok := ctx.Value(infoKey{}).(Info)
	return info, ok
}

func infoFrom(h http.Header) (Info, bool) {
	info := Info{Execution: h.Get(wire.FlowExecutionHeader), Workflow: h.Get(wire.FlowWorkflowHeader)}
	if info.Execution == "" {
		return Info{}, false
	}
	info.Step, _ = strconv.Atoi(h.Get(wire.FlowStepHeader))
	info.Attempt, _ = strconv.Atoi(h.Get(wire.FlowAttemptHeader))
	return info, true
}

// IdempotencyKey returns "<execution>/<step>", the same for every attempt
// of this step and different for every other step: pass it to the systems
// an activity changes (a payment provider's idempotency key, a unique
// column) so that a retried attempt does not act twice. It is "" outside
// an activity.
func IdempotencyKey(ctx context.Context) string {
	info, ok := ActivityInfo(ctx)
	if !ok {
		return ""
	}
	return info.Execution + "/" + strconv.Itoa(info.Step)
}

// Heartbeat tells the platform a long activity is alive, with optional
// progress details (JSON, kept with the attempt and shown in the
// history). Steps with a Timeouts.Heartbeat fail when heartbeats stop
// coming. It returns ErrCanceled when the execution was canceled: the
// activity should stop and return.
func Heartbeat(ctx context.Context, details any) error {
	if _, ok := ActivityInfo(ctx); !ok {
		return errors.New("flow.Heartbeat: not in an activity invocation")
	}
	req := wire.FlowRequest{Op: wire.FlowOpHeartbeat}
	if details != nil {
		b, err := json.Marshal(details)
		if err != nil {
			return fmt.Errorf("flow.Heartbeat: encode details: %w", err)
		}
		req.Details = b
	}
	resp, err := exchange(&req)
	switch {
	case err != nil:
		return fmt.Errorf("flow.Heartbeat: %w", err)
	case resp.Error != nil:
		return fromWire(resp.Error)
	case resp.Canceled:
		return ErrCanceled
	}
	return nil
}
