package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Run is one execution while this node holds its task's lease: the
// current run's history in memory (committed and pending events), the
// state folded from it, and the activities in flight. The orchestrator is
// run over it in passes; each pass replays the code from the start and
// either finishes, or suspends at a wait. A Run outlives its passes while
// activities are in flight or a short wait is due, so the next pass needs
// no store read; correctness never depends on that: a Run rebuilt from
// the store after a crash replays to the same state.
type Run struct {
	e      *Engine
	task   record.FlowTask
	notify chan struct{}    // activity done, inbox changed, abort
	follow *record.FlowTask // claimed again before this run ended (engine.mu)
	pre    *preloaded       // a new execution's state, so load reads nothing
	// gate (r.mu), when set, is the start of this execution still being
	// committed: nothing the run does takes effect before it opens
	// (startDurable). started is that start, for the renew loop, which
	// renews the lease only once the start has committed it.
	gate    *startGate
	started *startGate // set at launch, then read only

	mu        sync.Mutex
	commitMu  sync.Mutex // serialises keyed orchestrators' Commits (keyed.go)
	exec      record.FlowExecution
	hist      []record.FlowEvent
	durable   int  // hist[:durable] is committed
	needFlush bool // pending holds something that must be durable before the next effect
	consume   []int64
	starts    []store.FlowStartParams
	sends     []record.FlowInbox
	inbox     []record.FlowInbox // arrived, not consumed
	inboxSeen int64
	inboxNew  bool                       // the inbox may have changed: reload before deciding
	cmds      map[int]int                // step → index in hist of its command
	recorded  map[string]json.RawMessage // keyed orchestrators' records (keyed.go)
	restarts  int                        // restarts applied (EvRestarted)
	restarted time.Time                  // the last one's time
	ncmds     int
	results   map[int]*wire.FlowResult
	calls     map[int]*callState
	cancelAt  int // the await the cancel request was delivered to (0: none)
	aborted   bool
	failure   *wire.FlowError // the run must fail with this (non-determinism, limits)
	limit     int

	// starter is the traceparent of the execution's start (its started
	// event), runSC the span of this node's drive of it (zero when not
	// tracing): set by execute before any pass, read only afterwards.
	starter string
	runSC   oteltrace.SpanContext

	// Per pass.
	step      int
	awaits    int
	suspended bool
	wakeAt    time.Time
}

// passMargin is how long before its invocation's deadline an
// orchestrator pass stops waiting.
const passMargin = 500 * time.Millisecond

type callState struct {
	fn       string
	input    []byte
	retry    wire.FlowRetry
	timeouts wire.FlowTimeouts
	first    time.Time // scheduled at: schedule-to-close counts from here
	attempts int       // attempts finished
	nextAt   time.Time // the next attempt may start then
	running  bool
	// throttled: the last attempt was refused for concurrency (it did
	// not count) and waits for nextAt.
	throttled bool
	beat      time.Time // last heartbeat of the running attempt
	details   json.RawMessage
	stop      context.CancelCauseFunc
}

// Execution returns the execution as loaded (its ID, workflow, input).
func (r *Run) Execution() record.FlowExecution {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exec
}

// TraceParent is a traceparent in the execution's trace, with a new span.
func (r *Run) TraceParent() string {
	return "00-" + r.exec.TraceID + "-" + randomHex(8) + "-01"
}

func randomHex(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 2*n)
	for i := range b {
		b[i] = digits[rand.IntN(16)]
	}
	return string(b)
}

func (r *Run) wakeUp() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *Run) notifyInbox() {
	r.mu.Lock()
	r.inboxNew = true
	r.mu.Unlock()
	r.wakeUp()
}

func (r *Run) abort() {
	r.mu.Lock()
	r.aborted = true
	for _, cs := range r.calls {
		if cs.stop != nil {
			cs.stop(errAborted)
		}
	}
	r.mu.Unlock()
	r.wakeUp()
}

// startDurable waits (r.mu held, released meanwhile) for the commit of
// the start that created the execution, when the run was launched before
// it. false: the start did not create it, the run is aborted and must
// have no effect.
func (r *Run) startDurable() bool {
	g := r.gate
	if g == nil {
		return true
	}
	r.mu.Unlock()
	<-g.done
	r.mu.Lock()
	if !g.ok {
		r.aborted = true
		return false
	}
	if r.gate == g {
		r.gate = nil
	}
	return true
}

// leaseStored reports whether the run's lease is in the store: always,
// but for a run launched with its start until that start has committed.
func (r *Run) leaseStored() bool {
	g := r.started
	if g == nil {
		return true
	}
	select {
	case <-g.done:
		return g.ok
	default:
		return false
	}
}

// checkIDFree decides, for a run launched with its start, whether its
// first pass may begin before the start has committed: when the engine
// chose the id, or the id is not in the store yet. An id that exists (a
// retried start, a redelivered message starting the same execution) waits
// for the start's answer, which aborts the run: a duplicate start runs no
// orchestrator code. The read overlaps the start's commit; if it finds
// the execution that start just created, the run only waits for what it
// would have waited for anyway.
func (r *Run) checkIDFree(ctx context.Context, fresh bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.gate
	if g == nil || fresh {
		return
	}
	select {
	case <-g.done:
		return // the start has answered: startDurable will act on it
	default:
	}
	r.mu.Unlock()
	_, err := r.e.cfg.Store.FlowGet(ctx, r.task.ExecutionID)
	r.mu.Lock()
	if !errors.Is(err, store.ErrNotFound) {
		r.startDurable()
	}
}

// load reads the execution and folds its history.
func (r *Run) load(ctx context.Context) error {
	if p := r.pre; p != nil {
		r.pre = nil
		r.checkIDFree(ctx, p.fresh)
		hist := make([]record.FlowEvent, len(p.events))
		for i, ev := range p.events {
			ev.Seq = i + 1
			hist[i] = ev
		}
		r.mu.Lock()
		r.reset(p.exec, hist)
		r.mu.Unlock()
		return nil
	}
	st := r.e.cfg.Store
	ex, err := st.FlowGet(ctx, r.task.ExecutionID)
	if err != nil {
		return err
	}
	if ex.Status != record.FlowRunning {
		return &store.ExecutionStateError{ID: ex.ID, Status: ex.Status, Err: store.ErrClosed}
	}
	hist, err := st.FlowHistory(ctx, ex.ID, ex.Run, 0, 0)
	if err != nil {
		return err
	}
	inbox, err := st.FlowInboxList(ctx, ex.ID)
	if err != nil {
		return err
	}
	// Under the lock: the engine may abort the run (terminate, a lost
	// lease) while it loads.
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reset(*ex, hist)
	r.setInbox(inbox)
	return nil
}

func (r *Run) reset(ex record.FlowExecution, hist []record.FlowEvent) {
	r.exec, r.hist, r.durable = ex, hist, len(hist)
	r.cmds, r.ncmds = make(map[int]int), 0
	r.recorded = make(map[string]json.RawMessage)
	r.results, r.calls = make(map[int]*wire.FlowResult), make(map[int]*callState)
	r.cancelAt, r.failure = 0, nil
	r.limit = r.e.historyLimit(ex.Workflow)
	for i, ev := range hist {
		r.apply(i, ev)
	}
}

func (r *Run) setInbox(in []record.FlowInbox) {
	pending := make(map[int64]bool, len(r.consume))
	for _, id := range r.consume {
		pending[id] = true
	}
	r.inbox = r.inbox[:0]
	for _, m := range in {
		if !pending[m.ID] {
			r.inbox = append(r.inbox, m)
		}
		r.inboxSeen = max(r.inboxSeen, m.ID)
	}
	r.inboxNew = false
}

// apply folds one event (already at hist[i]) into the run's state.
func (r *Run) apply(i int, ev record.FlowEvent) {
	var d resultData
	switch ev.Type {
	case EvCallScheduled, EvChildStarted, EvTimerStarted, EvSignalWaiting, EvMarker:
		r.cmds[ev.Step] = i
		r.ncmds = max(r.ncmds, ev.Step)
		switch ev.Type {
		case EvCallScheduled:
			var c callData
			_ = json.Unmarshal(ev.Data, &c)
			cs := &callState{fn: ev.Name, input: c.Input, first: ev.Time}
			if c.Retry != nil {
				cs.retry = *c.Retry
			}
			if c.Timeouts != nil {
				cs.timeouts = *c.Timeouts
			}
			r.calls[ev.Step] = cs
		case EvMarker:
			var w waitData
			_ = json.Unmarshal(ev.Data, &w)
			r.results[ev.Step] = &wire.FlowResult{Step: ev.Step, Output: w.Value}
		}
	case EvStarted:
		r.starter = starterOf(ev)
	case EvRecorded:
		if _, ok := r.recorded[ev.Name]; !ok {
			r.recorded[ev.Name] = ev.Data
		}
	case EvCallRetrying:
		_ = json.Unmarshal(ev.Data, &d)
		if cs := r.calls[ev.Step]; cs != nil {
			cs.attempts = d.Attempt
			if d.NextAt != nil {
				cs.nextAt = *d.NextAt
			}
		}
	case EvCallCompleted, EvChildCompleted, EvTimerFired, EvSignalReceived:
		_ = json.Unmarshal(ev.Data, &d)
		out := d.Output
		if ev.Type == EvSignalReceived {
			var w waitData
			_ = json.Unmarshal(ev.Data, &w)
			out = w.Value
		}
		r.results[ev.Step] = &wire.FlowResult{Step: ev.Step, Output: out}
		if cs := r.calls[ev.Step]; cs != nil {
			cs.attempts = max(cs.attempts, d.Attempt)
		}
	case EvCallFailed, EvChildFailed:
		_ = json.Unmarshal(ev.Data, &d)
		r.results[ev.Step] = &wire.FlowResult{Step: ev.Step, Error: d.Error}
	case EvSignalTimedOut:
		r.results[ev.Step] = &wire.FlowResult{Step: ev.Step, Error: &wire.FlowError{
			Type: wire.FlowErrTimeout, Message: "signal " + ev.Name + " did not arrive in time", Step: ev.Step, Name: ev.Name}}
	case EvCancelReq:
		var c cancelData
		_ = json.Unmarshal(ev.Data, &c)
		r.cancelAt = c.Await
	case EvRestarted:
		var rd restartData
		_ = json.Unmarshal(ev.Data, &rd)
		r.restarts++
		r.restarted = ev.Time
		for _, k := range rd.Forget {
			delete(r.recorded, k)
		}
		if rd.DiscardStep > 0 {
			delete(r.results, rd.DiscardStep)
			if cs := r.calls[rd.DiscardStep]; cs != nil {
				cs.attempts, cs.nextAt, cs.first = 0, time.Time{}, ev.Time
			}
		}
	}
}

// appendEvent adds a new event to the pending part of the history.
func (r *Run) appendEvent(ev record.FlowEvent) {
	ev.Time = r.e.now()
	ev.Seq = len(r.hist) + 1
	r.hist = append(r.hist, ev)
	r.apply(len(r.hist)-1, ev)
	if !isCommand(ev.Type) || ev.Type == EvMarker || ev.Type == EvChildStarted {
		r.needFlush = true
	}
	if len(r.hist) > r.limit && r.failure == nil {
		r.failure = &wire.FlowError{Type: wire.FlowErrHistoryLimit, Message: fmt.Sprintf(
			"the run's history reached %d events, the limit for workflow %s: end the run with ContinueAsNew to start a fresh history, or raise history_limit", r.limit, r.exec.Workflow)}
	}
}

var suspend = &wire.FlowResponse{Suspend: true}

// stopped reports whether the pass must end now.
func (r *Run) stopped() bool { return r.suspended || r.aborted || r.failure != nil }

// Schedule records (or, replaying, matches) one command of the
// orchestrator: the next step.
func (r *Run) Schedule(ctx context.Context, req wire.FlowRequest) *wire.FlowResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped() {
		return suspend
	}
	k := r.step + 1
	name := req.Name
	if req.Kind == wire.FlowVersion {
		name = "version:" + req.Name
	}
	if idx, ok := r.cmds[k]; ok {
		ev := r.hist[idx]
		if req.Kind == wire.FlowVersion && (ev.Type != EvMarker || ev.Name != name) {
			// The history predates this change marker: the code takes
			// its oldest branch and the step is not consumed.
			return &wire.FlowResponse{Value: mustJSON(req.Min)}
		}
		if !matches(ev, req, name) {
			r.nonDeterminism(k, ev, req)
			return suspend
		}
		r.step = k
		if ev.Type == EvMarker {
			return &wire.FlowResponse{Step: k, Value: r.results[k].Output}
		}
		return &wire.FlowResponse{Step: k}
	}
	if len(req.Input) > MaxPayload {
		return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrPayloadTooLarge, NonRetryable: true, Name: req.Name,
			Message: fmt.Sprintf("input of %d bytes for %s %s (at most %d)", len(req.Input), req.Kind, req.Name, MaxPayload)}}
	}
	if len(req.Input) > 0 && !json.Valid(req.Input) {
		return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Message: "input is not valid JSON"}}
	}
	now := r.e.now()
	ev := record.FlowEvent{Step: k, Name: req.Name}
	switch req.Kind {
	case wire.FlowCall:
		if req.Name == "" {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Message: "call: empty function name"}}
		}
		ev.Type = EvCallScheduled
		ev.Data = mustJSON(callData{Input: orNull(req.Input), Retry: req.Retry, Timeouts: req.Timeouts})
	case wire.FlowChild:
		id := req.ID
		if id == "" {
			id = r.exec.ID + "/" + strconv.Itoa(r.exec.Run) + "/" + strconv.Itoa(k)
		}
		workflow := req.Name
		if q := r.e.cfg.Qualify; q != nil {
			workflow, id = q(r.exec.Project, workflow, id)
		}
		ref, ok := r.e.cfg.Workflows(workflow)
		if !ok || ref.Project != r.exec.Project {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrUnknown, NonRetryable: true, Name: req.Name,
				Message: fmt.Sprintf("child workflow %q: no active function of project %s declares it", req.Name, r.exec.Project)}}
		}
		if req.ID != "" {
			if taken := r.childIDTaken(ctx, id); taken != "" {
				// Started as it is, the child would never report to this
				// parent: it is another execution.
				return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Name: req.Name,
					Message: fmt.Sprintf("child id %q is taken by %s; choose another id", id, taken)}}
			}
		}
		// ctx holds the orchestrator invocation's span: the child's
		// start is its child.
		sp, err := r.e.startParams(ctx, StartParams{Workflow: workflow, ID: id, Input: req.Input, TraceParent: r.TraceParent(), Project: r.exec.Project}, r.exec.ID, k)
		if err != nil {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Message: err.Error()}}
		}
		ev.Type = EvChildStarted
		ev.Data = mustJSON(waitData{ID: id, Input: orNull(req.Input)})
		r.starts = append(r.starts, *sp)
	case wire.FlowSleep:
		at := now.Add(time.Duration(req.DurationMS) * time.Millisecond)
		ev.Type, ev.Data = EvTimerStarted, mustJSON(waitData{FireAt: &at})
	case wire.FlowSignal:
		if req.Name == "" {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Message: "wait for signal: empty name"}}
		}
		w := waitData{}
		if req.DurationMS > 0 {
			at := now.Add(time.Duration(req.DurationMS) * time.Millisecond)
			w.TimeoutAt = &at
		}
		ev.Type, ev.Data = EvSignalWaiting, mustJSON(w)
	case wire.FlowNow, wire.FlowRandom, wire.FlowUUID, wire.FlowVersion:
		var v any
		switch req.Kind {
		case wire.FlowNow:
			v = now.UTC().Format(time.RFC3339Nano)
		case wire.FlowRandom:
			v = rand.Uint64()
		case wire.FlowUUID:
			v = uuid.NewString()
		case wire.FlowVersion:
			v = req.Max
		}
		ev.Type, ev.Name, ev.Data = EvMarker, req.Kind, mustJSON(waitData{Value: mustJSON(v)})
		if req.Kind == wire.FlowVersion {
			ev.Name = name
		}
	default:
		return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Message: fmt.Sprintf("unknown command kind %q", req.Kind)}}
	}
	r.step = k
	r.appendEvent(ev)
	if r.failure != nil {
		return suspend
	}
	if ev.Type == EvMarker {
		return &wire.FlowResponse{Step: k, Value: r.results[k].Output}
	}
	if ev.Type == EvCallScheduled {
		// Activities start at once, so a fan-out runs concurrently.
		if err := r.startCall(ctx, k); err != nil {
			return suspend
		}
	}
	return &wire.FlowResponse{Step: k}
}

// childIDTaken describes the execution that holds id already, or the
// child of this pass about to be created with it; "" when it is free.
func (r *Run) childIDTaken(ctx context.Context, id string) string {
	for _, sp := range r.starts {
		if sp.Execution.ID == id {
			return "another child of this execution"
		}
	}
	if _, err := r.e.cfg.Store.FlowGet(ctx, id); err == nil {
		// Nothing about it: it may be another project's.
		return "another execution"
	}
	return ""
}

// matches reports whether a recorded command is the one the code asks
// for. Inputs are not compared: a step's input may legitimately depend on
// data the code reads differently after a fix; its kind and target may not.
func matches(ev record.FlowEvent, req wire.FlowRequest, name string) bool {
	switch req.Kind {
	case wire.FlowCall:
		return ev.Type == EvCallScheduled && ev.Name == req.Name
	case wire.FlowChild:
		return ev.Type == EvChildStarted && ev.Name == req.Name
	case wire.FlowSleep:
		return ev.Type == EvTimerStarted
	case wire.FlowSignal:
		return ev.Type == EvSignalWaiting && ev.Name == req.Name
	case wire.FlowNow, wire.FlowRandom, wire.FlowUUID:
		return ev.Type == EvMarker && ev.Name == req.Kind
	case wire.FlowVersion:
		return ev.Type == EvMarker && ev.Name == name
	}
	return false
}

func orNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func (r *Run) nonDeterminism(k int, ev record.FlowEvent, req wire.FlowRequest) {
	r.failure = &wire.FlowError{Type: wire.FlowErrNonDeterminism, Step: k, Name: req.Name, NonRetryable: true, Message: fmt.Sprintf(
		"workflow %s no longer matches the history of execution %s at step %d: the history records %s %q, the code now asks for %s %q "+
			"(changing the steps of a workflow with running executions needs a version marker, see flow.Version)",
		r.exec.Workflow, r.exec.ID, k, kindOf(ev), ev.Name, req.Kind, req.Name)}
}

// Await waits until every step has a result (or the pass must suspend)
// and returns the results.
func (r *Run) Await(ctx context.Context, steps []int) *wire.FlowResponse {
	return r.await(ctx, nil, steps)
}

// await is Await for the orchestrator invocation c (nil: none), whose
// waiting is not billed (host.Call.AddIdle).
func (r *Run) await(ctx context.Context, c *host.Call, steps []int) *wire.FlowResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped() {
		return suspend
	}
	r.awaits++
	for _, k := range steps {
		if _, ok := r.cmds[k]; !ok || k > r.step {
			return &wire.FlowResponse{Error: &wire.FlowError{Type: wire.FlowErrBadInput, NonRetryable: true, Message: fmt.Sprintf("await: step %d was not scheduled", k)}}
		}
	}
	if r.cancelAt == r.awaits {
		return &wire.FlowResponse{Canceled: true}
	}
	for {
		if r.stopped() {
			return suspend
		}
		if r.inboxNew {
			r.reloadInbox(ctx)
		}
		now := r.e.now()
		var wake time.Time
		busy, throttled, progressed, done := false, false, false, true
		for _, k := range steps {
			if r.results[k] != nil {
				continue
			}
			ev := r.hist[r.cmds[k]]
			var w waitData
			_ = json.Unmarshal(ev.Data, &w)
			switch ev.Type {
			case EvCallScheduled:
				cs := r.calls[k]
				switch {
				case cs.running:
					busy = true
				case !cs.nextAt.After(now):
					if err := r.startCall(ctx, k); err != nil {
						return suspend
					}
					busy = true
				default:
					wake = earliest(wake, cs.nextAt)
					throttled = throttled || cs.throttled
				}
			case EvTimerStarted:
				if !w.FireAt.After(now) {
					r.recordWait(SpanTimer, k, ev.Time, "")
					r.appendEvent(record.FlowEvent{Type: EvTimerFired, Step: k})
					progressed = true
				} else {
					wake = earliest(wake, *w.FireAt)
				}
			case EvSignalWaiting:
				if m, ok := r.take(record.InboxSignal, ev.Name); ok {
					r.recordWait(SpanSignal, k, ev.Time, ev.Name)
					r.appendEvent(record.FlowEvent{Type: EvSignalReceived, Step: k, Name: ev.Name, Data: mustJSON(waitData{Value: orNull(m.Data)})})
					progressed = true
				} else if w.TimeoutAt != nil && !w.TimeoutAt.After(now) {
					r.appendEvent(record.FlowEvent{Type: EvSignalTimedOut, Step: k, Name: ev.Name})
					progressed = true
				} else if w.TimeoutAt != nil {
					wake = earliest(wake, *w.TimeoutAt)
				}
			case EvChildStarted:
				if m, ok := r.take(record.InboxChild, strconv.Itoa(k)); ok {
					var d resultData
					_ = json.Unmarshal(m.Data, &d)
					typ := EvChildCompleted
					if d.Error != nil {
						typ = EvChildFailed
						d.Error.Step, d.Error.Name = k, ev.Name
					}
					r.appendEvent(record.FlowEvent{Type: typ, Step: k, Name: ev.Name, Data: mustJSON(resultData{Output: d.Output, Error: d.Error})})
					progressed = true
				}
			}
			if r.results[k] == nil {
				done = false
			}
		}
		if r.failure != nil {
			return suspend
		}
		if done {
			res := make([]wire.FlowResult, len(steps))
			for i, k := range steps {
				res[i] = *r.results[k]
			}
			return &wire.FlowResponse{Results: res}
		}
		if progressed {
			continue
		}
		// A cancel request is delivered to an await that has to wait:
		// never to one a replay answers from the history, so the code
		// takes the same path on every replay up to here.
		if r.cancelAt == 0 && r.deliverCancel(ctx) {
			return &wire.FlowResponse{Canceled: true}
		}
		// The orchestrator's invocation has a deadline: give the pass
		// up before it, the run goes on without it.
		if dl, ok := ctx.Deadline(); ok && now.After(dl.Add(-passMargin)) {
			r.suspended, r.wakeAt = true, wake
			return suspend
		}
		// A step refused for concurrency ends the pass: the orchestrator's
		// instance may be the one its activity is waiting for (a function
		// that is its own activity, at its max_concurrency).
		if !busy && (wake.IsZero() || wake.Sub(now) > r.e.cfg.Hold || throttled) {
			r.suspended, r.wakeAt = true, wake
			return suspend
		}
		r.waitLocked(ctx, c, wake, true)
		if ctx.Err() != nil {
			r.suspended, r.wakeAt = true, wake
			return suspend
		}
	}
}

// waitLocked sleeps (r.mu released) until something changes, wake comes
// or, when poll is set, a second passes (the inbox may have been written
// by another node). The wait is idle time of the orchestrator invocation
// c, when there is one.
func (r *Run) waitLocked(ctx context.Context, c *host.Call, wake time.Time, poll bool) {
	d := time.Second
	if !wake.IsZero() {
		d = min(d, wake.Sub(r.e.now()))
	}
	if dl, ok := ctx.Deadline(); ok {
		d = min(d, dl.Add(-passMargin).Sub(r.e.now()))
	}
	d = max(d, time.Millisecond)
	r.mu.Unlock()
	// An orchestrator's invocation is not billed for waiting on its steps.
	defer func(began time.Time) { c.AddIdle(time.Since(began)) }(time.Now())
	t := time.NewTimer(d)
	select {
	case <-r.notify:
	case <-t.C:
		if poll {
			r.mu.Lock()
			r.inboxNew = true
			r.mu.Unlock()
		}
	case <-ctx.Done():
	}
	t.Stop()
	r.mu.Lock()
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

func (r *Run) reloadInbox(ctx context.Context) {
	in, err := r.e.cfg.Store.FlowInboxList(ctx, r.exec.ID)
	if err != nil {
		return
	}
	r.setInbox(in)
}

// take consumes the oldest inbox message of a kind and name.
func (r *Run) take(kind, name string) (record.FlowInbox, bool) {
	for i, m := range r.inbox {
		if m.Kind == kind && m.Name == name {
			r.inbox = append(r.inbox[:i], r.inbox[i+1:]...)
			r.consume = append(r.consume, m.ID)
			return m, true
		}
	}
	return record.FlowInbox{}, false
}

// deliverCancel hands a waiting cancel request to the current await,
// records where (so replays deliver it at the same await) and passes it
// on to the children still running.
func (r *Run) deliverCancel(ctx context.Context) bool {
	m, ok := r.take(record.InboxCancel, "")
	if !ok {
		return false
	}
	var reason string
	_ = json.Unmarshal(m.Data, &reason)
	for {
		if _, more := r.take(record.InboxCancel, ""); !more {
			break
		}
	}
	r.appendEvent(record.FlowEvent{Type: EvCancelReq, Data: mustJSON(cancelData{Await: r.awaits, Reason: reason})})
	for k, idx := range r.cmds {
		ev := r.hist[idx]
		if ev.Type == EvChildStarted && r.results[k] == nil {
			var w waitData
			_ = json.Unmarshal(ev.Data, &w)
			if r.ownChild(ctx, w.ID) {
				r.sends = append(r.sends, record.FlowInbox{ExecutionID: w.ID, Kind: record.InboxCancel, Data: mustJSON("parent " + r.exec.ID + " canceled")})
			}
		}
	}
	return true
}

// ownChild reports whether execution id is this run's child. A child
// whose id another execution took between the command and its commit
// (the store leaves an existing id as it is) is someone else's, perhaps
// another project's: it must not hear of this execution's cancel. A child
// of this pass not stored yet is this run's (it is created by the commit
// that sends the cancel).
func (r *Run) ownChild(ctx context.Context, id string) bool {
	ex, err := r.e.cfg.Store.FlowGet(ctx, id)
	if err == nil {
		return ex.ParentID == r.exec.ID && ex.Project == r.exec.Project
	}
	for _, sp := range r.starts {
		if sp.Execution.ID == id {
			return errors.Is(err, store.ErrNotFound)
		}
	}
	return false
}

// inflight reports whether an activity of this run is running.
func (r *Run) inflight() bool {
	for _, cs := range r.calls {
		if cs.running {
			return true
		}
	}
	return false
}

// flushLocked commits the pending events (and what goes with them) under
// the lease, keeping it.
func (r *Run) flushLocked(ctx context.Context) error {
	return r.commitLocked(ctx, store.FlowCommit{LeaseUntil: r.e.now().Add(r.e.cfg.LeaseFor)})
}

func (r *Run) commitLocked(ctx context.Context, c store.FlowCommit) error {
	if !r.startDurable() {
		return errAborted
	}
	c.ExecutionID, c.Lease, c.FromSeq = r.exec.ID, r.task.Lease, r.durable
	c.Events = r.hist[r.durable:len(r.hist):len(r.hist)]
	c.ConsumeInbox, c.Start, c.Send = r.consume, r.starts, r.sends
	n := len(r.hist)
	// The commit itself does not need the run's lock; activities finishing
	// meanwhile append after n and are committed next time.
	r.mu.Unlock()
	_, err := r.e.commits.Do(ctx, c)
	r.mu.Lock()
	if err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			r.aborted = true
		}
		return err
	}
	r.durable = n
	r.consume, r.starts, r.sends = nil, nil, nil
	r.needFlush = false
	for i := n; i < len(r.hist); i++ {
		if ev := r.hist[i]; !isCommand(ev.Type) || ev.Type == EvMarker || ev.Type == EvChildStarted {
			r.needFlush = true
		}
	}
	if len(c.Start) > 0 || len(c.Send) > 0 {
		r.e.poke() // children and woken executions may be due here
	}
	return nil
}

// atCapacity reports an invocation refused for concurrency.
func atCapacity(err error) bool { return invoke.IsThrottled(err) }
