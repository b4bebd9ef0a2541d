package sfn

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/asl"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// STANDARD executions run on the flow core (docs/state-machines.md).
//
// An execution is a flow execution whose workflow is WorkflowPrefix +
// project + "/" + machine and whose id is IDPrefix + project + ":" +
// machine + ":" + name; its flow input is the execution's input. The flow
// engine leases it to one node, which runs the ASL interpreter over it as
// a keyed orchestrator (flow/keyed.go): every effect of the interpreter
// (a Task's function call, a Wait's or a retry's timer, a callback) has
// a key that is the same on every run, its result is recorded under that
// key, and a run after a crash replays the interpreter from the records:
// a recorded Task is not called again, a recorded timer keeps its time.
// The definition is recorded by the first run, so an execution keeps the
// definition it started with when the machine is updated, as at AWS.

// WorkflowPrefix starts the flow workflow name of a state machine. Flow
// workflow names of code cannot hold ':', so none collides.
const WorkflowPrefix = "states:"

// IDPrefix starts the flow execution id of a STANDARD execution.
const IDPrefix = "sfn:"

// Keys the orchestrator records besides the interpreter's effects.
const (
	keyDefinition = "$definition" // the definition the execution runs
)

// workflowName is the flow workflow of machine of project.
func workflowName(project, machine string) string {
	return WorkflowPrefix + project + "/" + machine
}

// ParseWorkflow splits a flow workflow name made by workflowName.
func ParseWorkflow(workflow string) (project, machine string, ok bool) {
	rest, ok := strings.CutPrefix(workflow, WorkflowPrefix)
	if !ok {
		return "", "", false
	}
	project, machine, ok = strings.Cut(rest, "/")
	return project, machine, ok && project != "" && machine != ""
}

func executionID(project, machine, name string) string {
	return IDPrefix + project + ":" + machine + ":" + name
}

// parseExecutionID splits an id made by executionID.
func parseExecutionID(id string) (project, machine, name string, ok bool) {
	rest, ok := strings.CutPrefix(id, IDPrefix)
	if !ok {
		return "", "", "", false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// randomSeed makes an execution's States.UUID and States.MathRandom
// replayable (asl.Options.Seed): its trace id, random per execution and
// kept with it, so each pass and the history's replay draw the same
// values, and executions do not share them.
func randomSeed(ex record.FlowExecution) string { return "asl-random\x00" + ex.TraceID }

// executionArn is the ARN of a STANDARD execution.
func executionArn(project, machine, name string) string {
	return "arn:aws:states:" + Region + ":" + Account(project) + ":execution:" + machine + ":" + name
}

// Orchestrator runs STANDARD executions for the flow engine; the server
// hands it the runs whose workflow starts with WorkflowPrefix.
func (h *Handler) Orchestrator() flow.Orchestrator { return (*standard)(h) }

type standard Handler

// recorded is what a Task call or callback learnt: its output or its
// error (the shape SendTask* send, wire.TaskOutcome).
type recorded = wire.TaskOutcome

// errSuspended ends a pass's interpreter: every goroutine waits for
// something far away, and the run gives its task back.
var errSuspended = errors.New("sfn: execution suspended")

// Orchestrate runs one pass of a STANDARD execution.
func (s *standard) Orchestrate(ctx context.Context, r *flow.Run) (flow.Outcome, error) {
	h := (*Handler)(s)
	ex := r.Execution()
	project, machine, ok := ParseWorkflow(ex.Workflow)
	if !ok || project != ex.Project {
		return flow.Outcome{Error: &wire.FlowError{Type: asl.ErrRuntime, NonRetryable: true, Message: "not a state machine execution: " + ex.Workflow}}, nil
	}
	_, _, name, _ := parseExecutionID(ex.ID)
	def, err := h.definitionOf(ctx, r, project, machine)
	if err != nil {
		var ae *asl.Error
		if errors.As(err, &ae) {
			return flow.Outcome{Error: &wire.FlowError{Type: ae.Name, Message: ae.Cause, NonRetryable: true}}, nil
		}
		return flow.Outcome{}, err
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	d := &driver{h: h, r: r, project: project, exec: ex.ID, cancel: cancel, active: 1, waiters: map[*waiter]struct{}{}}
	start := r.StartTime()
	timeoutFrom := start
	if n, at := r.Restarts(); n > 0 && at.After(start) {
		// A redriven execution's timeout counts from its redrive.
		timeoutFrom = at
	}
	opts := asl.Options{
		Tasks: d, SleepStep: d.sleep, NowStep: d.now, TaskToken: d.token, OnThread: d.thread,
		ExecutionID: executionArn(project, machine, name), ExecutionName: name,
		StateMachineID: machineArn(project, machine), StateMachineName: machine,
		Seed: randomSeed(ex), MaxEvents: asl.MaxHistoryEvents,
	}
	if def.TimeoutSeconds > 0 {
		opts.Deadline = timeoutFrom.Add(time.Duration(def.TimeoutSeconds) * time.Second)
		d.deadline = opts.Deadline
	}
	input := ex.Input
	if len(input) == 0 || string(input) == "null" {
		input = []byte("{}")
	}
	type result struct {
		out      json.RawMessage
		err      error
		timedOut bool
	}
	done := make(chan result, 1)
	go func() {
		var timedOut bool
		o := opts
		o.OnEvent = func(e asl.Event) {
			if e.Type == asl.ExecutionTimedOut {
				timedOut = true
			}
		}
		out, err := asl.Run(pctx, def, input, o)
		done <- result{out, err, timedOut}
		r.Poke()
	}()
	for {
		select {
		case res := <-done:
			rex := recordedExecution{id: ex.ID, workflow: ex.Workflow, input: input, start: start, records: r.Recorded}
			switch {
			case res.err == nil:
				// A report that could not be sent fails the pass: the
				// engine runs it again (a replay, no Task runs twice)
				// and the report goes again, before the end commits.
				if err := h.reportToParent(ctx, project, rex, "SUCCEEDED", res.out, nil); err != nil {
					return flow.Outcome{}, err
				}
				return flow.Outcome{Output: res.out}, nil
			case pctx.Err() != nil && !res.timedOut:
				return flow.Outcome{Suspended: true}, nil
			}
			ae := asl.AsError(res.err)
			fe := &wire.FlowError{Type: ae.Name, Message: ae.Cause, NonRetryable: true}
			status := "FAILED"
			if res.timedOut {
				fe.Details = json.RawMessage(`{"status":"TIMED_OUT"}`)
				status = "TIMED_OUT"
			}
			if err := h.reportToParent(ctx, project, rex, status, nil, fe); err != nil {
				return flow.Outcome{}, err
			}
			return flow.Outcome{Error: fe}, nil
		default:
		}
		if r.Stopped() {
			cancel(errSuspended)
			<-done
			return flow.Outcome{Suspended: true}, nil
		}
		quiet, wake := d.state()
		if !d.deadline.IsZero() && (wake.IsZero() || d.deadline.Before(wake)) {
			wake = d.deadline
		}
		if quiet && (wake.IsZero() || wake.Sub(r.Now()) > r.Hold()) {
			// Every goroutine waits for a far time or for news: give
			// the task back until then.
			r.Suspend(wake)
			cancel(errSuspended)
			<-done
			return flow.Outcome{Suspended: true}, nil
		}
		r.WaitChange(pctx, wake)
		d.recheck()
	}
}

// definitionOf returns the definition the execution runs: the one it
// recorded, or the machine's current one, recorded now.
func (h *Handler) definitionOf(ctx context.Context, r *flow.Run, project, machine string) (*asl.Definition, error) {
	raw, ok := r.Recorded(keyDefinition)
	var text string
	if ok {
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, fmt.Errorf("recorded definition: %w", err)
		}
	} else {
		m, err := h.cfg.Store.StateMachineGet(ctx, project, machine)
		if err != nil {
			if isNotFound(err) {
				return nil, &asl.Error{Name: asl.ErrRuntime, Cause: "State Machine Does Not Exist: '" + machineArn(project, machine) + "'"}
			}
			return nil, err
		}
		text = m.Definition
		b, _ := json.Marshal(text)
		r.Record(keyDefinition, b)
	}
	return h.parsed(text)
}

// parsed parses a definition, from a small cache keyed by its hash:
// every pass of every execution of a machine parses the same text.
func (h *Handler) parsed(text string) (*asl.Definition, error) {
	sum := sha256.Sum256([]byte(text))
	if v, ok := h.defs.Load(sum); ok {
		return v.(*asl.Definition), nil
	}
	def, err := asl.Parse([]byte(text))
	if err != nil {
		return nil, &asl.Error{Name: asl.ErrRuntime, Cause: "The recorded definition no longer parses: " + err.Error()}
	}
	if h.ndefs.Add(1) > maxCachedDefinitions {
		h.defs.Clear()
		h.ndefs.Store(1)
	}
	h.defs.Store(sum, def)
	return def, nil
}

// maxCachedDefinitions bounds the parsed definitions kept in memory.
const maxCachedDefinitions = 512

// driver is one pass's interpreter: its goroutines' effects, and which of
// them run and which wait.
type driver struct {
	h        *Handler
	r        *flow.Run
	project  string
	exec     string
	cancel   context.CancelCauseFunc
	deadline time.Time

	mu      sync.Mutex
	active  int // goroutines running (not waiting in a sleep or a callback)
	waiters map[*waiter]struct{}
}

// waiter is a goroutine waiting: until wake (zero: for news), unless
// its context ends first (a failed branch cancels its siblings): such a
// goroutine is about to run again and does not count as waiting.
type waiter struct {
	wake time.Time
	ch   chan struct{}
	ctx  context.Context
}

var (
	_ asl.Tasks     = (*driver)(nil)
	_ asl.StepTasks = (*driver)(nil)
)

func (d *driver) thread(delta int) {
	d.mu.Lock()
	d.active += delta
	quiet := d.active == 0
	d.mu.Unlock()
	if quiet {
		d.r.Poke()
	}
}

// state reports whether every goroutine waits, and the earliest time one
// waits for.
func (d *driver) state() (quiet bool, wake time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	waking := false
	for w := range d.waiters {
		if w.ctx.Err() != nil {
			waking = true
		}
		if !w.wake.IsZero() && (wake.IsZero() || w.wake.Before(wake)) {
			wake = w.wake
		}
	}
	return d.active <= 0 && !waking, wake
}

// recheck wakes the waiting goroutines to look again.
func (d *driver) recheck() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for w := range d.waiters {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// wait blocks until ready reports true (checked now, whenever the driver
// rechecks, and when the time ready last named passes), or ctx ends.
// ready also names the next time it may become true (zero: only news).
func (d *driver) wait(ctx context.Context, ready func() (bool, time.Time)) error {
	w := &waiter{ch: make(chan struct{}, 1), ctx: ctx}
	for {
		ok, wake := ready()
		if ok {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		d.mu.Lock()
		d.active--
		w.wake = wake
		d.waiters[w] = struct{}{}
		quiet := d.active == 0
		d.mu.Unlock()
		if quiet {
			d.r.Poke()
		}
		var t *time.Timer
		var timer <-chan time.Time
		if !wake.IsZero() {
			t = time.NewTimer(max(time.Until(wake), 0))
			timer = t.C
		}
		select {
		case <-w.ch:
		case <-timer:
		case <-ctx.Done():
		}
		if t != nil {
			t.Stop()
		}
		d.mu.Lock()
		d.active++
		delete(d.waiters, w)
		d.mu.Unlock()
	}
}

// sleep is a Wait state's or a retry's timer: its end is recorded on
// first sight, so a replay waits for the same time.
func (d *driver) sleep(ctx context.Context, key string, dur time.Duration) error {
	var at time.Time
	if v, ok := d.r.Recorded(key); ok {
		if err := json.Unmarshal(v, &at); err != nil {
			return fmt.Errorf("recorded timer %s: %w", key, err)
		}
	} else {
		at = d.r.Now().Add(dur)
		if dur <= 0 {
			return ctx.Err()
		}
		b, _ := json.Marshal(at)
		if !d.r.Record(key, b) {
			return errSuspended
		}
	}
	return d.wait(ctx, func() (bool, time.Time) { return !d.r.Now().Before(at), at })
}

// now is the time of a JSONata $now()/$millis() evaluation: recorded on
// the first pass (committed with the pass's next commit, before any Task
// can act on it) and answered from the record on every replay. A pass
// that ends before the record is committed computes a new time next
// time, which nothing outside the execution saw.
func (d *driver) now(key string) time.Time {
	var at time.Time
	if v, ok := d.r.Recorded(key); ok && json.Unmarshal(v, &at) == nil {
		return at
	}
	at = d.r.Now()
	b, _ := json.Marshal(at)
	d.r.Record(key, b)
	return at
}

// Invoke is not used: InvokeStep is.
func (d *driver) Invoke(ctx context.Context, resource string, params json.RawMessage, token string) (json.RawMessage, error) {
	return nil, &asl.Error{Name: asl.ErrRuntime, Cause: "a STANDARD execution's task without a key"}
}

// InvokeStep runs a Task: from its record, or by calling the function
// (after committing what the execution learnt so far) and recording the
// outcome. A callback task then waits for SendTaskSuccess or Failure.
func (d *driver) InvokeStep(ctx context.Context, c asl.TaskCall) (json.RawMessage, error) {
	if v, ok := d.r.Recorded(c.Key); ok {
		return replayed(v)
	}
	if c.Token != "" || strings.HasSuffix(c.Resource, ".sync") || strings.HasSuffix(c.Resource, ".sync:2") {
		return d.callback(ctx, c)
	}
	if c.Resource == startExecution {
		if err := d.r.Commit(ctx); err != nil {
			return nil, err
		}
		out, err := d.startChild(ctx, c, "")
		return d.record(ctx, c.Key, out, err)
	}
	if err := d.r.Commit(ctx); err != nil {
		return nil, err
	}
	t := &tasks{h: d.h, project: d.project}
	out, err := t.Invoke(ctx, c.Resource, c.Params, "")
	// A function at its concurrency limit did not run: wait and try
	// again rather than fail the Task (AWS surfaces the throttle as
	// Lambda.TooManyRequestsException for a Retry to catch; an execution
	// here waits for capacity as a workflow's step does). The Task's own
	// timeout still bounds it.
	for wait := 5 * time.Millisecond; isThrottle(err) && ctx.Err() == nil; wait = min(2*wait, 500*time.Millisecond) {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		out, err = t.Invoke(ctx, c.Resource, c.Params, "")
	}
	return d.record(ctx, c.Key, out, err)
}

func isThrottle(err error) bool {
	var ae *asl.Error
	return errors.As(err, &ae) && ae.Name == "Lambda.TooManyRequestsException"
}

// record records a call's outcome under key and returns it. An outcome
// cut by the pass ending is not recorded (the call runs again).
func (d *driver) record(ctx context.Context, key string, out json.RawMessage, err error) (json.RawMessage, error) {
	var rec recorded
	switch {
	case err == nil:
		rec.Output = out
		if len(rec.Output) == 0 {
			rec.Output = json.RawMessage("null")
		}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		rec.Error = asl.ErrTimeout
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		ae := asl.AsError(err)
		rec.Error, rec.Cause = ae.Name, ae.Cause
	}
	b, _ := json.Marshal(rec)
	if !d.r.Record(key, b) {
		return nil, errSuspended
	}
	return replayed(b)
}

func replayed(v json.RawMessage) (json.RawMessage, error) {
	var rec recorded
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("recorded task: %w", err)
	}
	if rec.Error != "" {
		return nil, &asl.Error{Name: rec.Error, Cause: rec.Cause}
	}
	return rec.Output, nil
}

func (d *driver) token(key string) string { return wire.TaskToken(d.exec, key) }

// Signal names of a callback: its completion and its heartbeats.
func callbackSignal(key string) string  { return wire.TaskSignal(key) }
func heartbeatSignal(key string) string { return wire.TaskHeartbeatSignal(key) }

// callback runs a .waitForTaskToken Task: it invokes the function that
// hands the token out (once: recorded under key+"^" when it returned),
// then waits for SendTaskSuccess or SendTaskFailure, within the Task's
// TimeoutSeconds and, when set, HeartbeatSeconds between heartbeats.
func (d *driver) callback(ctx context.Context, c asl.TaskCall) (json.RawMessage, error) {
	startedKey := c.Key + "^"
	var started time.Time
	if v, ok := d.r.Recorded(startedKey); ok {
		_ = json.Unmarshal(v, &started)
	} else {
		base, pattern := c.Resource, ""
		for _, suffix := range []string{".waitForTaskToken", ".sync:2", ".sync"} {
			if b, ok := strings.CutSuffix(c.Resource, suffix); ok {
				base, pattern = b, suffix
				break
			}
		}
		if !(base == lambdaInvoke && pattern == ".waitForTaskToken") && base != startExecution {
			return d.record(ctx, c.Key, nil, &asl.Error{Name: asl.ErrRuntime,
				Cause: "Strata does not support the resource '" + c.Resource + "': a callback task is " + lambdaInvoke + ".waitForTaskToken or " + startExecution + "[.sync|.sync:2|.waitForTaskToken]"})
		}
		if err := d.r.Commit(ctx); err != nil {
			return nil, err
		}
		var err error
		if base == lambdaInvoke {
			t := &tasks{h: d.h, project: d.project}
			_, err = t.Invoke(ctx, base, c.Params, "")
		} else {
			_, err = d.startChild(ctx, c, pattern)
		}
		if err != nil {
			return d.record(ctx, c.Key, nil, err)
		}
		started = d.r.Now()
		b, _ := json.Marshal(started)
		if !d.r.Record(startedKey, b) {
			return nil, errSuspended
		}
	}
	// Heartbeats taken so far are recorded under key~1, key~2, ...
	beats, last := 0, started
	for {
		v, ok := d.r.Recorded(fmt.Sprintf("%s~%d", c.Key, beats+1))
		if !ok {
			break
		}
		beats++
		last = beatTime(v, last)
	}
	var got json.RawMessage
	var fail string
	err := d.wait(ctx, func() (bool, time.Time) {
		if v, ok := d.r.TakeSignal(ctx, c.Key, callbackSignal(c.Key)); ok {
			got = v
			return true, time.Time{}
		}
		for {
			v, ok := d.r.TakeSignal(ctx, fmt.Sprintf("%s~%d", c.Key, beats+1), heartbeatSignal(c.Key))
			if !ok {
				break
			}
			beats++
			last = beatTime(v, last)
		}
		now := d.r.Now()
		var wake time.Time
		if c.Timeout > 0 {
			end := started.Add(c.Timeout)
			if !now.Before(end) {
				fail = asl.ErrTimeout
				return true, time.Time{}
			}
			wake = end
		}
		if c.Heartbeat > 0 {
			end := last.Add(c.Heartbeat)
			if !now.Before(end) {
				fail = asl.ErrHeartbeatTimeout
				return true, time.Time{}
			}
			if wake.IsZero() || end.Before(wake) {
				wake = end
			}
		}
		return false, wake
	})
	if err != nil {
		return nil, err
	}
	if got != nil {
		return replayed(got)
	}
	return d.record(context.WithoutCancel(ctx), c.Key, nil, &asl.Error{Name: fail})
}

// beatTime reads a heartbeat's time (SendTaskHeartbeat sends it).
func beatTime(v json.RawMessage, def time.Time) time.Time {
	var t time.Time
	if json.Unmarshal(v, &t) != nil || t.IsZero() {
		return def
	}
	return t
}

// Qualify is the flow engine's Config.Qualify: "states:NAME" started by a
// caller of project (a function's flow.Start, a workflow's flow.Child)
// is project's state machine NAME, under the id its ARN names (the id
// given, or a new UUID, is the execution's name). Anything else is
// returned as it is.
func Qualify(project, workflow, id string) (string, string) {
	machine, ok := strings.CutPrefix(workflow, WorkflowPrefix)
	if !ok || strings.Contains(machine, "/") || project == "" {
		return workflow, id
	}
	if id == "" {
		id = newID()
	}
	if strings.HasPrefix(id, IDPrefix) {
		return workflowName(project, machine), id
	}
	return workflowName(project, machine), executionID(project, machine, id)
}

// startExecution is the resource that starts another state machine of
// the project (with .sync or .sync:2, and waits for it to end; with
// .waitForTaskToken, waits for its task token).
const startExecution = "arn:aws:states:::states:startExecution"

// keyParent is recorded with the start of an execution that a .sync
// Task started: the parent execution and the Task's key, which the child
// reports its end to.
const keyParent = "$parent"

type parentRef struct {
	Execution string `json:"execution"`
	Key       string `json:"key"`
	Pattern   string `json:"pattern"` // .sync or .sync:2
}

// startChild starts the execution a startExecution Task names, as a
// STANDARD execution of this project. Its name is the Task's Name, or
// one derived from this execution and the Task's key, so a Task run
// again after a crash finds the execution it started instead of
// starting another.
func (d *driver) startChild(ctx context.Context, c asl.TaskCall, pattern string) (json.RawMessage, error) {
	var p struct {
		StateMachineArn string          `json:"StateMachineArn"`
		Input           json.RawMessage `json:"Input"`
		Name            string          `json:"Name"`
	}
	if err := json.Unmarshal(c.Params, &p); err != nil || p.StateMachineArn == "" {
		return nil, &asl.Error{Name: asl.ErrRuntime, Cause: "The Parameters of states:startExecution must name a StateMachineArn"}
	}
	machine, err := machineName(d.project, p.StateMachineArn)
	if err != nil {
		return nil, &asl.Error{Name: "StepFunctions.StateMachineDoesNotExistException", Cause: err.Error()}
	}
	m, _, err := d.h.runnable(ctx, d.project, machine)
	if err != nil {
		return nil, &asl.Error{Name: "StepFunctions.StateMachineDoesNotExistException", Cause: "State Machine Does Not Exist: '" + p.StateMachineArn + "'"}
	}
	if m.Type != record.StateMachineStandard {
		return nil, &asl.Error{Name: asl.ErrRuntime, Cause: "Strata starts STANDARD machines from a Task; '" + m.Name + "' is EXPRESS"}
	}
	input := p.Input
	if len(input) == 0 {
		input = json.RawMessage("{}")
	} else if s := ""; json.Unmarshal(input, &s) == nil {
		input = json.RawMessage(s) // Input given as a JSON string
	}
	if !json.Valid(input) {
		return nil, &asl.Error{Name: "StepFunctions.InvalidExecutionInputException", Cause: "the Input is not JSON"}
	}
	name := p.Name
	if name == "" {
		sum := sha256.Sum256([]byte(d.exec + "\x00" + c.Key))
		h := fmt.Sprintf("%x", sum[:16])
		name = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	} else if err := checkName("execution", name); err != nil {
		return nil, &asl.Error{Name: "StepFunctions.InvalidNameException", Cause: err.Error()}
	}
	def, _ := json.Marshal(m.Definition)
	records := []flow.Record{{Key: keyDefinition, Value: def}}
	if pattern == ".sync" || pattern == ".sync:2" {
		ref, _ := json.Marshal(parentRef{Execution: d.exec, Key: c.Key, Pattern: pattern})
		records = append(records, flow.Record{Key: keyParent, Value: ref})
	}
	ex, _, err := d.h.cfg.Executions.Start(ctx, flow.StartParams{Workflow: workflowName(d.project, m.Name), ID: executionID(d.project, m.Name, name),
		Input: input, Project: d.project, Records: records})
	if err != nil {
		if errors.Is(err, flow.ErrIDTaken) {
			return nil, &asl.Error{Name: "StepFunctions.ExecutionAlreadyExistsException", Cause: "Execution Already Exists: '" + executionArn(d.project, m.Name, name) + "'"}
		}
		return nil, err
	}
	return json.Marshal(map[string]any{"ExecutionArn": executionArn(d.project, m.Name, name), "StartDate": ex.CreatedAt.UTC().Format(time.RFC3339Nano)})
}

// reportToParent tells the execution that started this one with a .sync
// Task how it ended, as AWS's .sync answers: DescribeExecution's fields,
// with Output as JSON text (.sync) or JSON (.sync:2); a failure fails the
// Task with States.TaskFailed and that description as the cause. Sent
// before this execution's end commits: a crash in between runs it to the
// same end again and sends the same outcome, which the parent, having
// recorded the first, ignores.
func (h *Handler) reportToParent(ctx context.Context, project string, ex recordedExecution, status string, output json.RawMessage, fe *wire.FlowError) error {
	raw, ok := ex.records(keyParent)
	if !ok {
		return nil
	}
	var p parentRef
	if json.Unmarshal(raw, &p) != nil {
		return nil
	}
	_, machine, _ := ParseWorkflow(ex.workflow)
	_, _, name, _ := parseExecutionID(ex.id)
	desc := map[string]any{"ExecutionArn": executionArn(project, machine, name), "StateMachineArn": machineArn(project, machine), "Name": name,
		"Status": status, "StartDate": ex.start.UTC().Format(time.RFC3339Nano), "StopDate": time.Now().UTC().Format(time.RFC3339Nano),
		"Input": string(ex.input), "InputDetails": map[string]bool{"Included": true}}
	var outcome wire.TaskOutcome
	if status == "SUCCEEDED" {
		desc["OutputDetails"] = map[string]bool{"Included": true}
		if p.Pattern == ".sync:2" {
			desc["Output"] = output
		} else {
			desc["Output"] = string(output)
		}
		outcome.Output, _ = json.Marshal(desc)
	} else {
		if fe != nil {
			desc["Error"], desc["Cause"] = fe.Type, fe.Message
		}
		b, _ := json.Marshal(desc)
		outcome.Error, outcome.Cause = asl.ErrTaskFailed, string(b)
	}
	v, _ := json.Marshal(outcome)
	err := h.cfg.Executions.Signal(ctx, project, p.Execution, wire.TaskSignal(p.Key), v)
	if err == nil || isNotFound(err) || errors.Is(err, store.ErrClosed) {
		return nil // delivered, or the parent is gone or over
	}
	return fmt.Errorf("report the end of %s to its parent %s: %w", ex.id, p.Execution, err)
}

// recordedExecution is what reportToParent needs of an execution.
type recordedExecution struct {
	id, workflow string
	input        []byte
	start        time.Time
	records      func(key string) (json.RawMessage, bool)
}
