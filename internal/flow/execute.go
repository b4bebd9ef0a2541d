package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// maxCrashes is how many orchestrator passes in a row may fail to run
// (trap, timeout, function missing) before the execution fails.
const maxCrashes = 5

// execute drives one claimed execution until it finishes, waits or its
// lease is lost.
func (e *Engine) execute(r *Run) {
	ctx := e.ctx
	if err := r.load(ctx); err != nil {
		// A task claimed just as its execution was terminated or swept
		// has nothing to do.
		if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrClosed) && ctx.Err() == nil {
			e.cfg.Logger.Warn("flow: load execution", "id", r.task.ExecutionID, "err", err)
		}
		return
	}
	defer r.abortCalls()
	if e.cfg.Tracer != nil {
		var span oteltrace.Span
		ctx, span = e.runSpan(ctx, r)
		r.runSC = span.SpanContext()
		defer func() {
			if f := r.failure; f != nil {
				trace.Fail(span, f.Message)
			}
			span.End()
		}()
	}
	crashes := 0
	for {
		r.mu.Lock()
		if r.aborted || ctx.Err() != nil {
			r.mu.Unlock()
			return
		}
		r.step, r.awaits, r.suspended, r.wakeAt = 0, 0, false, time.Time{}
		r.mu.Unlock()

		var out Outcome
		var err error
		if fn := r.exec.Function; e.cfg.ProjectOf(fn) == r.exec.Project {
			out, err = e.cfg.Orchestrator.Orchestrate(ctx, r)
		} else {
			// The function was removed and its name taken by another
			// project: that project's code must not run this execution.
			err = fmt.Errorf("orchestrator function %s not found in project %s", fn, r.exec.Project)
		}

		r.mu.Lock()
		switch {
		case r.aborted:
			r.mu.Unlock()
			return
		case r.failure != nil:
			e.closeLocked(ctx, r, nil, r.failure)
			r.mu.Unlock()
			return
		case err != nil && !r.suspended:
			if atCapacity(err) {
				r.waitLocked(ctx, nil, e.now().Add(20*time.Millisecond), false)
				r.mu.Unlock()
				continue
			}
			crashes++
			e.cfg.Logger.Warn("flow: orchestrator pass failed", "id", r.exec.ID, "workflow", r.exec.Workflow, "err", err)
			if crashes+r.task.Attempts-1 >= maxCrashes {
				e.closeLocked(ctx, r, nil, &wire.FlowError{Type: wire.FlowErrFunction, NonRetryable: true, Message: fmt.Sprintf(
					"orchestrator function %s failed %d times in a row: %v", r.exec.Function, maxCrashes, err)})
				r.mu.Unlock()
				return
			}
			r.waitLocked(ctx, nil, e.now().Add(time.Duration(crashes)*100*time.Millisecond), false)
			r.mu.Unlock()
			continue
		case err == nil && !r.suspended && !out.Suspended:
			crashes = 0
			if r.step < r.ncmds {
				r.failure = &wire.FlowError{Type: wire.FlowErrNonDeterminism, Step: r.step + 1, NonRetryable: true, Message: fmt.Sprintf(
					"workflow %s no longer matches the history of execution %s: the code finished after step %d, the history records %d steps",
					r.exec.Workflow, r.exec.ID, r.step, r.ncmds)}
				e.closeLocked(ctx, r, nil, r.failure)
				r.mu.Unlock()
				return
			}
			next := e.finishLocked(ctx, r, out)
			r.mu.Unlock()
			if !next {
				return
			}
			continue
		}
		crashes = 0
		// Suspended. Stay while an activity runs, a short wait is due or
		// news arrived; otherwise give the task back until its next time.
		now := e.now()
		if r.inflight() || r.inboxNew || (!r.wakeAt.IsZero() && r.wakeAt.Sub(now) <= e.cfg.Hold) {
			if !r.inboxNew { // news is read by the next pass at once
				r.waitLocked(ctx, nil, r.wakeAt, false)
			}
			r.mu.Unlock()
			continue
		}
		err = r.commitLocked(ctx, store.FlowCommit{Release: &store.FlowRelease{DueAt: r.wakeAt, InboxSeen: r.inboxSeen}})
		r.mu.Unlock()
		if err != nil && !errors.Is(err, store.ErrLeaseLost) && ctx.Err() == nil {
			e.cfg.Logger.Warn("flow: release", "id", r.exec.ID, "err", err)
		}
		return
	}
}

// abortCalls stops the activities still running when a run ends.
func (r *Run) abortCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, cs := range r.calls {
		if cs.stop != nil {
			cs.stop(errAborted)
		}
	}
}

// finishLocked records the orchestrator's outcome. It returns true when
// a new run began (continue-as-new) and should be driven at once.
func (e *Engine) finishLocked(ctx context.Context, r *Run, out Outcome) bool {
	if out.ContinueAsNew != nil {
		input := out.ContinueAsNew
		if len(input) > MaxPayload {
			e.closeLocked(ctx, r, nil, &wire.FlowError{Type: wire.FlowErrPayloadTooLarge, Message: "continue-as-new input over the payload limit"})
			return false
		}
		r.appendEvent(record.FlowEvent{Type: EvContinued, Data: mustJSON(map[string]json.RawMessage{"input": input})})
		now := e.now()
		data := mustJSON(startedData{Input: input, TraceID: r.exec.TraceID, Parent: r.exec.ParentID, ParentStep: r.exec.ParentStep, Continued: true, TraceParent: r.starter})
		first := record.FlowEvent{Seq: 1, Type: EvStarted, Name: r.exec.Workflow, Data: data, Time: now}
		if err := r.commitLocked(ctx, store.FlowCommit{NewRun: &store.FlowNewRun{Input: input, Events: []record.FlowEvent{first}}}); err != nil {
			return false
		}
		// The new run's task was released due now; take it back through
		// the claim loop like any other.
		e.poke()
		return false
	}
	if out.Error != nil {
		e.closeLocked(ctx, r, nil, out.Error)
		return false
	}
	e.closeLocked(ctx, r, orNull(out.Output), nil)
	return false
}

// closeLocked finishes the execution: completed with output, or failed
// (canceled when the failure follows a cancel request).
func (e *Engine) closeLocked(ctx context.Context, r *Run, output []byte, ferr *wire.FlowError) {
	now := e.now()
	c := &store.FlowClose{RetainUntil: now.Add(e.retention(r.exec.Workflow))}
	var ev record.FlowEvent
	switch {
	case ferr == nil:
		if len(output) > MaxPayload {
			ferr = &wire.FlowError{Type: wire.FlowErrPayloadTooLarge, Message: fmt.Sprintf("workflow output of %d bytes (at most %d)", len(output), MaxPayload)}
			break
		}
		c.Status, c.Output = record.FlowCompleted, output
		ev = record.FlowEvent{Type: EvCompleted, Data: mustJSON(resultData{Output: output})}
	}
	if ferr != nil {
		c.Status = record.FlowFailed
		evType := EvFailed
		if r.cancelAt > 0 && ferr.Type != wire.FlowErrNonDeterminism && ferr.Type != wire.FlowErrHistoryLimit {
			c.Status, evType = record.FlowCanceled, EvCanceled
		}
		c.Error = mustJSON(ferr)
		ev = record.FlowEvent{Type: evType, Step: ferr.Step, Data: mustJSON(resultData{Error: ferr})}
	}
	if r.exec.ParentID != "" {
		m := childMessage(r.exec.ParentID, r.exec.ParentStep, c.Output, ferr)
		if ferr != nil && c.Status == record.FlowCanceled {
			m = childMessage(r.exec.ParentID, r.exec.ParentStep, nil, &wire.FlowError{Type: wire.FlowErrCanceled, Message: ferr.Message, Name: r.exec.Workflow})
		}
		r.sends = append(r.sends, m)
	}
	// The history limit does not stop the closing event itself.
	r.limit = max(r.limit, len(r.hist)+1)
	r.failure = nil
	r.appendEvent(ev)
	err := r.commitLocked(ctx, store.FlowCommit{Close: c})
	switch {
	case err == nil && e.cfg.OnClose != nil:
		e.cfg.OnClose(r.exec.ID, c.Status)
	case err != nil && !errors.Is(err, store.ErrLeaseLost) && ctx.Err() == nil:
		e.cfg.Logger.Warn("flow: close execution", "id", r.exec.ID, "err", err)
	}
}
