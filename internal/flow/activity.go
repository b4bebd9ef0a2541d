package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Retry defaults (docs/workflows.md).
const (
	DefaultMaxAttempts = 3
	DefaultInitial     = time.Second
	DefaultCoefficient = 2.0
)

var errHeartbeat = errors.New("no heartbeat in time")

// activity is an attempt of a step: its invocation's host.Call carries
// it (Workflow), so the activity's heartbeats find their way back.
type activity struct {
	r       *Run
	step    int
	attempt int
}

// startCall starts the next attempt of step k (r.mu held). Results learnt
// so far are committed first: an activity never starts on the strength of
// something the store could forget.
func (r *Run) startCall(ctx context.Context, k int) error {
	if !r.startDurable() {
		return errAborted
	}
	if r.needFlush {
		if err := r.flushLocked(ctx); err != nil {
			return err
		}
	}
	cs := r.calls[k]
	if cs.running || r.results[k] != nil {
		return nil
	}
	now := r.e.now()
	cs.running, cs.beat, cs.details = true, now, nil
	actx, stop := context.WithCancelCause(r.e.ctx)
	cs.stop = stop
	go r.runAttempt(actx, k, cs.fn, cs.input, cs.timeouts, cs.attempts+1)
	return nil
}

func (r *Run) runAttempt(ctx context.Context, k int, fn string, input []byte, to wire.FlowTimeouts, attempt int) {
	if to.StartToCloseMS > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(to.StartToCloseMS)*time.Millisecond)
		defer cancel()
	}
	ctx, stopBeat := context.WithCancelCause(ctx)
	defer stopBeat(nil)
	if to.HeartbeatMS > 0 {
		go r.watchHeartbeat(ctx, k, time.Duration(to.HeartbeatMS)*time.Millisecond, stopBeat)
	}
	req := &wire.Request{
		Method: "POST", Path: "/",
		Headers: []wire.Header{
			{Name: "Content-Type", Values: []string{"application/json"}},
			{Name: wire.FlowExecutionHeader, Values: []string{r.exec.ID}},
			{Name: wire.FlowWorkflowHeader, Values: []string{r.exec.Workflow}},
			{Name: wire.FlowStepHeader, Values: []string{strconv.Itoa(k)}},
			{Name: wire.FlowAttemptHeader, Values: []string{strconv.Itoa(attempt)}},
		},
		Body: input,
	}
	var res *invoke.Result
	var err error
	var span oteltrace.Span
	if r.e.cfg.Tracer != nil {
		ctx, span = r.stepSpan(ctx, k, fn, attempt)
	}
	start := r.e.now()
	if r.e.cfg.ProjectOf(fn) == r.exec.Project {
		res, err = r.e.cfg.Invoker.Invoke(ctx, invoke.Request{Function: fn, Trigger: "workflow", TraceParent: r.TraceParent(), Wire: req,
			Workflow: &activity{r: r, step: k, attempt: attempt}})
	} else {
		// Function names are global, projects are not: another project's
		// function is answered exactly as one that does not exist, so a
		// workflow learns nothing of what other projects deploy.
		err = fmt.Errorf("function %s: %w", fn, invoke.ErrNoFunction)
	}
	out, ferr, free := interpret(ctx, r.exec.Project, fn, res, err)
	if ferr != nil && ferr.Type == wire.FlowErrTimeout && to.StartToCloseMS > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The step's own limit, not the function's, cut the attempt.
		ferr.Message = fmt.Sprintf("activity %s did not finish within the step's start-to-close timeout of %s",
			fn, time.Duration(to.StartToCloseMS)*time.Millisecond)
	}
	if span != nil {
		if ferr != nil {
			trace.Fail(span, ferr.Message)
		}
		// Ended before callDone: that may finish the run (and end its
		// span), and a step's span must not outlive the run it is in.
		span.End()
	}
	if f := r.e.cfg.OnStep; f != nil {
		outcome := "ok"
		switch {
		case free:
			outcome = "throttled"
		case ferr != nil:
			outcome = "error"
		}
		f(r.exec.Project, r.exec.Workflow, outcome, r.e.now().Sub(start))
	}
	r.callDone(k, attempt, out, ferr, free)
}

func (r *Run) watchHeartbeat(ctx context.Context, k int, every time.Duration, stop context.CancelCauseFunc) {
	t := time.NewTicker(max(every/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		last := r.calls[k].beat
		r.mu.Unlock()
		if r.e.now().Sub(last) > every {
			stop(errHeartbeat)
			return
		}
	}
}

// interpret turns an invocation's answer into a step output or error.
// free is true when the attempt never ran (throttled) and does not count.
func interpret(ctx context.Context, project, fn string, res *invoke.Result, err error) (out json.RawMessage, ferr *wire.FlowError, free bool) {
	if err != nil {
		switch {
		case atCapacity(err):
			return nil, nil, true
		case errors.Is(context.Cause(ctx), errHeartbeat):
			return nil, &wire.FlowError{Type: wire.FlowErrHeartbeatTimeout, Message: fmt.Sprintf("activity %s stopped heartbeating", fn)}, false
		case invoke.IsTimeout(err), errors.Is(err, context.DeadlineExceeded):
			return nil, &wire.FlowError{Type: wire.FlowErrTimeout, Message: err.Error()}, false
		case invoke.IsNoFunction(err):
			return nil, &wire.FlowError{Type: wire.FlowErrFunction, Message: fmt.Sprintf("function %s not found in project %s (is it deployed?)", fn, project)}, false
		}
		return nil, &wire.FlowError{Type: wire.FlowErrFunction, Message: err.Error()}, false
	}
	resp := res.Response
	if resp.Status >= 200 && resp.Status < 300 {
		body := resp.Body
		switch {
		case len(body) == 0:
			body = []byte("null")
		case !json.Valid(body):
			body = mustJSON(string(body)) // plain text answers become a JSON string
		}
		if len(body) > MaxPayload {
			return nil, &wire.FlowError{Type: wire.FlowErrPayloadTooLarge, NonRetryable: true,
				Message: fmt.Sprintf("activity %s answered %d bytes (at most %d)", fn, len(body), MaxPayload)}, false
		}
		return body, nil, false
	}
	var e struct {
		Error *wire.FlowError `json:"error"`
	}
	if json.Unmarshal(resp.Body, &e) == nil && e.Error != nil && e.Error.Type != "" {
		return nil, e.Error, false
	}
	msg := string(resp.Body)
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return nil, &wire.FlowError{Type: "HTTP " + strconv.Itoa(resp.Status), Message: msg}, false
}

// callDone records an attempt's end: the result, a retry, or the failure.
func (r *Run) callDone(k, attempt int, out json.RawMessage, ferr *wire.FlowError, free bool) {
	r.mu.Lock()
	defer r.wakeUp()
	defer r.mu.Unlock()
	cs := r.calls[k]
	cs.running, cs.stop = false, nil
	defer func() { cs.details = nil }()
	if r.aborted || r.results[k] != nil {
		return
	}
	now := r.e.now()
	cs.throttled = free
	if free {
		cs.nextAt = now.Add(50 * time.Millisecond)
		return
	}
	if ferr == nil {
		r.appendEvent(record.FlowEvent{Type: EvCallCompleted, Step: k, Name: cs.fn, Data: mustJSON(resultData{Output: out, Attempt: attempt})})
		return
	}
	ferr.Step, ferr.Name, ferr.Attempts = k, cs.fn, attempt
	if ferr.Details == nil && cs.details != nil {
		// The last heartbeat's progress goes with the failed attempt.
		ferr.Details = cs.details
	}
	if next, ok := cs.retryAt(now, attempt, ferr); ok {
		cs.attempts, cs.nextAt = attempt, next
		r.appendEvent(record.FlowEvent{Type: EvCallRetrying, Step: k, Name: cs.fn, Data: mustJSON(resultData{Error: ferr, Attempt: attempt, NextAt: &next, Details: cs.details})})
		return
	}
	r.appendEvent(record.FlowEvent{Type: EvCallFailed, Step: k, Name: cs.fn, Data: mustJSON(resultData{Error: ferr, Attempt: attempt, Details: cs.details})})
}

// retryAt decides whether a failed attempt is retried, and when.
func (cs *callState) retryAt(now time.Time, attempt int, ferr *wire.FlowError) (time.Time, bool) {
	p := cs.retry
	maxAttempts := p.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = DefaultMaxAttempts
	}
	if ferr.NonRetryable || attempt >= maxAttempts {
		return time.Time{}, false
	}
	switch ferr.Type {
	case wire.FlowErrBadInput, wire.FlowErrPayloadTooLarge, wire.FlowErrCanceled:
		return time.Time{}, false
	}
	for _, t := range p.NonRetryable {
		if t == ferr.Type {
			return time.Time{}, false
		}
	}
	initial := time.Duration(p.InitialMS) * time.Millisecond
	if initial <= 0 {
		initial = DefaultInitial
	}
	coef := p.Coefficient
	if coef < 1 {
		coef = DefaultCoefficient
	}
	maxInterval := time.Duration(p.MaxIntervalMS) * time.Millisecond
	if maxInterval <= 0 {
		maxInterval = 100 * initial
	}
	wait := time.Duration(float64(initial) * math.Pow(coef, float64(attempt-1)))
	if wait > maxInterval || wait <= 0 {
		wait = maxInterval
	}
	next := now.Add(wait)
	if d := time.Duration(cs.timeouts.ScheduleToCloseMS) * time.Millisecond; d > 0 && next.Sub(cs.first) >= d {
		ferr.Message = fmt.Sprintf("%s (no retry: the step's schedule-to-close timeout of %s would pass)", ferr.Message, d)
		return time.Time{}, false
	}
	return next, true
}

// heartbeat records that the activity is alive. canceled tells it to
// stop: its execution was canceled or it is no longer wanted.
func (a *activity) heartbeat(ctx context.Context, details json.RawMessage) (canceled bool) {
	r := a.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if cs := r.calls[a.step]; cs != nil && cs.running {
		cs.beat, cs.details = r.e.now(), details
	}
	return r.aborted || r.cancelAt > 0 || ctx.Err() != nil
}
