package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Tasks runs a Task state's Resource. params is the effective input as
// JSON; token is the task token when the resource ends in
// .waitForTaskToken. An *Error return fails the state with its name;
// any other error fails it as States.TaskFailed.
type Tasks interface {
	Invoke(ctx context.Context, resource string, params json.RawMessage, token string) (json.RawMessage, error)
}

// StepTasks is implemented by Tasks that need to know which step of the
// execution a call is: durable executions record each call's result
// under its Key and answer it from the record when the execution is
// replayed. When Options.Tasks implements it, InvokeStep is called
// instead of Invoke.
type StepTasks interface {
	InvokeStep(ctx context.Context, call TaskCall) (json.RawMessage, error)
}

// TaskCall is one run of a Task state's resource.
type TaskCall struct {
	// Key names the call within the execution, the same on every run of
	// the execution over the same results: the thread (branch or
	// iteration, by position) and the count of effects before it in that
	// thread. Retries are new calls with new keys.
	Key       string
	State     string
	Resource  string
	Params    json.RawMessage
	Token     string        // .waitForTaskToken: the token handed out
	Timeout   time.Duration // TimeoutSeconds (0: none)
	Heartbeat time.Duration // HeartbeatSeconds (0: none)
}

// Options configure one execution. Zero values are usable: real time,
// context-aware sleep, no tasks, no events.
type Options struct {
	Tasks   Tasks
	Now     func() time.Time
	Sleep   func(ctx context.Context, d time.Duration) error
	Rand    func() float64 // for JitterStrategy FULL; [0,1)
	OnEvent func(Event)
	// SleepStep, when set, replaces Sleep and is told the sleep's key
	// (see TaskCall.Key), so a durable execution can record when it ends.
	SleepStep func(ctx context.Context, key string, d time.Duration) error
	// TaskToken, when set, makes the task token of the .waitForTaskToken
	// call with key (else a random UUID).
	TaskToken func(key string) string
	// OnThread, when set, is told of every branch or iteration goroutine
	// that starts (+1) and ends (-1), so a caller can tell when every
	// thread of the execution waits.
	OnThread func(delta int)
	// Deadline, when set, is the end of the execution's TimeoutSeconds
	// (else counted from now): a resumed execution keeps its first one.
	Deadline time.Time
	// Seed, when set, makes States.UUID and States.MathRandom (without
	// a seed argument) draw from a sequence derived from it, the
	// thread's position and the count of its draws, instead of from
	// crypto/rand: a durable execution replayed from its records then
	// computes the same values it did the first time.
	Seed string
	// NowStep, when set, gives JSONata's $now() and $millis() their
	// time as the thread's next effect under key: a durable execution
	// records the time of the first pass and answers the record when it
	// replays, so a state evaluated again after a Wait, a callback or a
	// crash computes what it did the first time (else: Now).
	NowStep func(key string) time.Time
	// MaxEvents, when set, caps the execution's history as STANDARD
	// executions' is capped at AWS (MaxHistoryEvents): the event
	// numbered MaxEvents is the last; unless it is the execution's
	// success, the execution fails there with ErrRuntime and the events
	// its threads would emit past the cap are not emitted.
	MaxEvents int
	// OnStateFailed, when set, is told of every thread (by its path, the
	// prefix of its effects' keys) that ends with an error of its own
	// (not one stopped because a sibling failed or the execution ended
	// from outside, which did not fail by itself): seq is the
	// count of the thread's effects before the state that failed it
	// started. A redrive forgets the thread's effects after seq, so that
	// state runs again and the ones before it do not.
	OnStateFailed    func(path string, seq int)
	ExecutionID      string
	ExecutionName    string
	StateMachineID   string
	StateMachineName string
}

// MaxPayload is AWS's limit on a state's input or output (256 KiB).
const MaxPayload = 256 * 1024

type execution struct {
	opts    Options
	input   any
	started time.Time
	ids     atomic.Int64
	evMu    sync.Mutex
	// stop ends the run's context when the history reaches its cap
	// (capped set); nil without MaxEvents.
	stop   context.CancelCauseFunc
	capped atomic.Bool
}

// contextObj is one state's view of the context object $$; the JSON value
// is built only when a $$ path is evaluated.
type contextObj struct {
	ex        *execution
	th        *thread // whose random draws the state's intrinsics take
	state     string
	entered   time.Time
	retry     int
	token     string
	inMap     bool
	itemIndex int
	itemValue any
	built     any
}

func (c *contextObj) value() any {
	if c.built != nil {
		return c.built
	}
	ex := c.ex
	m := map[string]any{
		"Execution": map[string]any{
			"Id": ex.opts.ExecutionID, "Input": ex.input, "Name": ex.opts.ExecutionName,
			"StartTime": ex.started.UTC().Format(time.RFC3339Nano), "RoleArn": "",
		},
		"State": map[string]any{
			"Name": c.state, "EnteredTime": c.entered.UTC().Format(time.RFC3339Nano), "RetryCount": float64(c.retry),
		},
		"StateMachine": map[string]any{"Id": ex.opts.StateMachineID, "Name": ex.opts.StateMachineName},
	}
	if c.token != "" {
		m["Task"] = map[string]any{"Token": c.token}
	}
	if c.inMap {
		m["Map"] = map[string]any{"Item": map[string]any{"Index": float64(c.itemIndex), "Value": c.itemValue}}
	}
	c.built = m
	return m
}

// thread is one line of execution (the top level, a branch, an iteration):
// it carries the previous event id and the Map item it runs.
type thread struct {
	ex        *execution
	prev      int64
	inMap     bool
	itemIndex int
	itemValue any
	cx        contextObj
	// vars are the JSONata/Assign variables in scope; replaced, never
	// written, so branches and iterations can share their parent's.
	vars map[string]any
	// path names the thread by position (branch or iteration index under
	// the effect that started it) and seq counts its effects: together
	// they key each effect the same way on every run (TaskCall.Key).
	path string
	seq  int
	// draws counts the thread's random draws (States.UUID,
	// States.MathRandom), which Options.Seed makes replayable.
	draws int
}

// nextKey is the key of the thread's next effect.
func (th *thread) nextKey() string {
	th.seq++
	return th.path + ":" + strconv.Itoa(th.seq)
}

// jsonataNow is the time $now() and $millis() give in one evaluation of
// an expression: a recorded effect of the thread under Options.NowStep.
func (th *thread) jsonataNow() time.Time {
	if f := th.ex.opts.NowStep; f != nil {
		return f(th.nextKey())
	}
	return th.ex.opts.Now()
}

// sleep waits d as the thread's next effect.
func (th *thread) sleep(ctx context.Context, d time.Duration) error {
	key := th.nextKey()
	if f := th.ex.opts.SleepStep; f != nil {
		return f(ctx, key, d)
	}
	return th.ex.opts.Sleep(ctx, d)
}

// fork runs the goroutines of a Parallel or Map state, at most slots at
// once, and keeps Options.OnThread's count exact: a goroutine that ends
// while the state's own goroutine waits for it hands its place in the
// count to that goroutine instead of leaving it, so the count never
// touches zero while the state is about to go on (a caller that acts
// when every goroutine waits must not act on that).
type fork struct {
	cb      func(int)
	mu      sync.Mutex
	slots   int
	running int
	idle    bool // the state's goroutine waits for a slot or for the end
	wake    chan struct{}
}

func newFork(th *thread, slots int) *fork {
	cb := th.ex.opts.OnThread
	if cb == nil {
		cb = func(int) {}
	}
	return &fork{cb: cb, slots: max(slots, 1), wake: make(chan struct{}, 1)}
}

// acquire takes a slot for the next goroutine, waiting for one to end
// when all are taken; false when ctx ended first.
func (f *fork) acquire(ctx context.Context) bool {
	f.mu.Lock()
	if f.slots > 0 {
		f.slots--
		f.mu.Unlock()
		return true
	}
	f.idle = true
	f.mu.Unlock()
	f.cb(-1)
	select {
	case <-f.wake:
		return true // a slot and a place in the count, handed over
	case <-ctx.Done():
	}
	f.mu.Lock()
	if f.idle {
		f.idle = false
		f.mu.Unlock()
		f.cb(1)
		return false
	}
	f.mu.Unlock()
	<-f.wake // handed over as ctx ended
	return true
}

// spawn runs fn in a goroutine that holds a slot.
func (f *fork) spawn(fn func()) {
	f.mu.Lock()
	f.running++
	f.mu.Unlock()
	f.cb(1)
	go func() {
		defer f.done()
		fn()
	}()
}

func (f *fork) done() {
	f.mu.Lock()
	f.running--
	if f.idle {
		f.idle = false
		f.mu.Unlock()
		f.wake <- struct{}{}
		return
	}
	f.slots++
	f.mu.Unlock()
	f.cb(-1)
}

// wait waits for every goroutine to end.
func (f *fork) wait() {
	for {
		f.mu.Lock()
		if f.running == 0 {
			f.mu.Unlock()
			return
		}
		f.idle = true
		f.mu.Unlock()
		f.cb(-1)
		<-f.wake
	}
}

// base is the path prefix shared by the threads of one Parallel or Map
// state (the parent's next effect); kind and index tell them apart.
func (th *thread) child(inMap bool, index int, item any, base, kind string, pos int) *thread {
	return &thread{ex: th.ex, prev: th.prev, inMap: inMap, itemIndex: index, itemValue: item, vars: th.vars,
		path: base + kind + strconv.Itoa(pos)}
}

// Run executes def on input (JSON) and returns the output (JSON). A failed
// execution returns an *Error with the failure's name and cause; an invalid
// input returns a plain error.
func Run(ctx context.Context, def *Definition, input []byte, opts Options) (json.RawMessage, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if len(input) == 0 {
		input = []byte("{}")
	}
	ex := &execution{opts: opts, started: opts.Now()}
	if len(input) > MaxPayload {
		return nil, newErr(ErrDataLimitExceeded, "The state/task returned a result with a size exceeding the maximum number of bytes service limit.")
	}
	in, err := decodeJSON(input)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input is not valid JSON: %w", err)
	}
	ex.input = in
	th := &thread{ex: ex, path: "r"}
	th.emit(Event{Type: ExecutionStarted, Input: input})
	parent := ctx
	if opts.MaxEvents > 0 {
		var stop context.CancelCauseFunc
		ctx, stop = context.WithCancelCause(ctx)
		defer stop(nil)
		ex.stop = stop
	}
	if def.TimeoutSeconds > 0 {
		deadline := opts.Deadline
		if deadline.IsZero() {
			deadline = ex.started.Add(time.Duration(def.TimeoutSeconds) * time.Second)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	out, ferr := th.runMachine(ctx, def.root, in)
	if ex.capped.Load() && parent.Err() == nil {
		// An event past the cap was not emitted: the success cannot
		// be the last event either.
		ferr = historyFull(opts.MaxEvents)
		th.emit(Event{Type: ExecutionFailed, Error: ferr.Name, Cause: ferr.Cause})
		return nil, ferr
	}
	if ferr == nil {
		b := marshal(out)
		if len(b) > MaxPayload {
			ferr = newErr(ErrDataLimitExceeded, "The state/task returned a result with a size exceeding the maximum number of bytes service limit.")
		} else {
			th.emit(Event{Type: ExecutionSucceeded, Output: b})
			return b, nil
		}
	}
	if parent.Err() != nil {
		// The caller stopped the execution: AWS's ABORTED, not a failure
		// of the state machine.
		th.emit(Event{Type: ExecutionAborted})
		return nil, fmt.Errorf("asl: execution aborted: %w", context.Cause(parent))
	}
	if def.TimeoutSeconds > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		ferr = &Error{Name: ErrTimeout, Cause: "The execution timed out."}
		th.emit(Event{Type: ExecutionTimedOut, Error: ferr.Name, Cause: ferr.Cause})
		return nil, ferr
	}
	th.emit(Event{Type: ExecutionFailed, Error: ferr.Name, Cause: ferr.Cause})
	return nil, ferr
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (th *thread) runMachine(ctx context.Context, m *machine, input any) (any, *Error) {
	st := m.start
	doc := input
	for {
		if err := ctx.Err(); err != nil {
			return nil, &Error{Name: ErrTimeout, Cause: "The execution was stopped: " + err.Error()}
		}
		seq := th.seq
		out, next, err := th.runState(ctx, st, doc)
		if err != nil {
			// A thread stopped from outside (a sibling branch failed, the
			// execution stopped or timed out) did not fail by itself.
			if f := th.ex.opts.OnStateFailed; f != nil && ctx.Err() == nil {
				f(th.path, seq)
			}
			return nil, err
		}
		if next == nil {
			return out, nil
		}
		st, doc = next, out
	}
}

// runState runs one state and returns its output and the next state (nil
// when the machine ends).
func (th *thread) runState(ctx context.Context, st *State, raw any) (any, *State, *Error) {
	ex := th.ex
	// One context object per thread, reset per state: a state transition
	// should not allocate for what most states never read.
	cx := &th.cx
	*cx = contextObj{ex: ex, th: th, state: st.Name, inMap: th.inMap, itemIndex: th.itemIndex, itemValue: th.itemValue, entered: ex.opts.Now()}
	enteredID := th.emit(Event{Type: st.enteredEvent, StateName: st.Name, Input: th.jsonIf(raw)})
	if st.j != nil {
		return th.runStateJ(ctx, st, raw, cx, enteredID)
	}
	fail := func(e *Error) (any, *State, *Error) {
		if e.Name == ErrRuntime && !e.bare && !strings.HasPrefix(e.Cause, "An error occurred") {
			e = &Error{Name: e.Name, Cause: fmt.Sprintf("An error occurred while executing the state '%s' (entered at the event id #%d). %s", st.Name, enteredID, e.Cause)}
		}
		return nil, nil, e
	}
	// InputPath.
	eff := raw
	if st.inputNull {
		eff = map[string]any{}
	} else if st.inputPath != nil {
		v, ok := st.inputPath.get(raw)
		if !ok {
			return fail(newErr(ErrRuntime, "Invalid path '%s' : No results for path: %s", st.inputPath.src, st.inputPath.normalized()))
		}
		eff = v
	}
	var out any
	var next *State
	switch st.Type {
	case "Choice":
		s := &scope{doc: eff, ctx: cx}
		for _, r := range st.choices {
			ok, err := r.eval(s)
			if err != nil {
				return fail(err)
			}
			if ok {
				next = r.next
				break
			}
		}
		if next == nil {
			if st.deflt == nil {
				return fail(&Error{Name: ErrNoChoiceMatched, Cause: fmt.Sprintf("No Matches! in state '%s'", st.Name)})
			}
			next = st.deflt
		}
		out = eff
	case "Succeed":
		out = eff
	case "Fail":
		e := &Error{Name: st.errName, Cause: st.cause}
		s := &scope{doc: raw, ctx: cx}
		if st.errorExpr != nil {
			v, ok, err := st.errorExpr.eval(s)
			if err != nil {
				return fail(err)
			}
			str, isStr := v.(string)
			if !ok || !isStr {
				return fail(newErr(ErrRuntime, "The ErrorPath '%s' did not resolve to a string", exprSrc(st.errorExpr)))
			}
			e.Name = str
		}
		if st.causeExpr != nil {
			v, ok, err := st.causeExpr.eval(s)
			if err != nil {
				return fail(err)
			}
			str, isStr := v.(string)
			if !ok || !isStr {
				return fail(newErr(ErrRuntime, "The CausePath '%s' did not resolve to a string", exprSrc(st.causeExpr)))
			}
			e.Cause = str
		}
		return nil, nil, e
	case "Wait":
		d, err := th.waitDuration(st, eff)
		if err != nil {
			return fail(err)
		}
		if serr := th.sleep(ctx, d); serr != nil {
			return fail(&Error{Name: ErrTimeout, Cause: serr.Error()})
		}
		out = eff
		next = st.next
	case "Pass":
		var res any = eff
		if st.params != nil {
			v, err := st.params.eval(&scope{doc: eff, ctx: cx}, "Parameters")
			if err != nil {
				return fail(err)
			}
			res = v
		}
		if st.hasResult {
			res = st.result
		}
		v, err := th.applyResult(st, raw, res, cx)
		if err != nil {
			return fail(err)
		}
		out, next = v, st.next
	default: // Task, Parallel, Map: Retry and Catch apply.
		v, nx, err := th.runRetriable(ctx, st, raw, eff, cx)
		if err != nil {
			return fail(err)
		}
		out, next = v, nx
	}
	if st.builds && exceeds(out, MaxPayload) {
		return fail(newErr(ErrDataLimitExceeded, "The state '%s' produced an output with a size exceeding the maximum number of bytes service limit.", st.Name))
	}
	// OutputPath.
	if st.outputNull {
		out = map[string]any{}
	} else if st.outputPath != nil {
		v, ok := st.outputPath.get(out)
		if !ok {
			return fail(newErr(ErrRuntime, "Invalid path '%s' : No results for path: %s", st.outputPath.src, st.outputPath.normalized()))
		}
		out = v
	}
	th.emit(Event{Type: st.exitedEvent, StateName: st.Name, Output: th.jsonIf(out)})
	return out, next, nil
}

func exprSrc(e *expr) string {
	if e.path != nil {
		return e.path.src
	}
	return e.fn.name
}

// applyResult runs ResultSelector, ResultPath and returns the new document.
func (th *thread) applyResult(st *State, raw, res any, cx *contextObj) (any, *Error) {
	if st.selector != nil {
		v, err := st.selector.eval(&scope{doc: res, ctx: cx}, "ResultSelector")
		if err != nil {
			return nil, err
		}
		res = v
	}
	return applyResultPath(st.resultPath, st.resultNull, raw, res)
}

func applyResultPath(p *Path, null bool, raw, res any) (any, *Error) {
	if null {
		return raw, nil
	}
	if p == nil || len(p.segs) == 0 {
		return res, nil
	}
	v, ok := p.set(raw, res)
	if !ok {
		return nil, newErr(ErrResultPathMatchFailure, "Unable to apply ReferencePath %s to input %s", p.src, compactJSON(raw))
	}
	return v, nil
}

func (th *thread) waitDuration(st *State, eff any) (time.Duration, *Error) {
	now := th.ex.opts.Now()
	switch {
	case st.hasSeconds:
		return time.Duration(st.seconds * float64(time.Second)), nil
	case st.hasTimestamp:
		return st.timestamp.Sub(now), nil
	case st.secondsPath != nil:
		v, ok := st.secondsPath.get(eff)
		f, isNum := v.(float64)
		if !ok || !isNum || f < 0 || f != math.Trunc(f) {
			return 0, newErr(ErrRuntime, "Invalid path '%s': The SecondsPath parameter does not reference a valid positive integer.", st.secondsPath.src)
		}
		return time.Duration(f) * time.Second, nil
	default:
		v, ok := st.timestampPath.get(eff)
		s, isStr := v.(string)
		t, err := parseTimestamp(s)
		if !ok || !isStr || err != nil {
			return 0, newErr(ErrRuntime, "Invalid path '%s': The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string.", st.timestampPath.src)
		}
		return t.Sub(now), nil
	}
}

// matches reports whether an ErrorEquals list matches name. States.ALL
// and States.TaskFailed are wildcards; neither catches States.Runtime or
// States.DataLimitExceeded, and States.TaskFailed does not match
// States.Timeout.
func matches(list []string, name string) bool {
	for _, e := range list {
		switch {
		case e == name:
			return true
		case name == ErrRuntime || name == ErrDataLimitExceeded:
		case e == ErrAll:
			return true
		case e == ErrTaskFailed && name != ErrTimeout:
			return true
		}
	}
	return false
}

func (th *thread) runRetriable(ctx context.Context, st *State, raw, eff any, cx *contextObj) (any, *State, *Error) {
	var attempts []int
	for {
		res, err := th.act(ctx, st, eff, cx)
		if err == nil {
			out, rerr := th.applyResult(st, raw, res, cx)
			if rerr == nil {
				return out, st.next, nil
			}
			err = rerr
		}
		if err.Name == ErrRuntime {
			return nil, nil, err
		}
		retried := false
		for i, r := range st.retry {
			if !matches(r.errorEquals, err.Name) {
				continue
			}
			if attempts == nil {
				attempts = make([]int, len(st.retry))
			}
			if attempts[i] >= r.maxAttempts {
				break
			}
			delay := r.interval * math.Pow(r.backoff, float64(attempts[i]))
			if r.maxDelay > 0 && delay > r.maxDelay {
				delay = r.maxDelay
			}
			if r.fullJitter {
				delay *= th.ex.opts.Rand()
			}
			attempts[i]++
			cx.retry++
			cx.built = nil
			if serr := th.sleep(ctx, time.Duration(delay*float64(time.Second))); serr != nil {
				return nil, nil, &Error{Name: ErrTimeout, Cause: serr.Error()}
			}
			retried = true
			break
		}
		if retried {
			continue
		}
		for _, c := range st.catch {
			if !matches(c.errorEquals, err.Name) {
				continue
			}
			errOut := map[string]any{"Error": err.Name, "Cause": err.Cause}
			out, perr := applyResultPath(c.resultPath, c.resultNull, raw, errOut)
			if perr != nil {
				return nil, nil, perr
			}
			return out, c.next, nil
		}
		return nil, nil, err
	}
}

// act runs a Task, Parallel or Map state's work on its effective input.
func (th *thread) act(ctx context.Context, st *State, eff any, cx *contextObj) (any, *Error) {
	if st.Type == "Task" && strings.HasSuffix(st.resource, ".waitForTaskToken") {
		// Each attempt has its own token (its own key).
		if f := th.ex.opts.TaskToken; f != nil {
			cx.token = f(th.path + ":" + strconv.Itoa(th.seq+1)) // the key task() takes next
		} else {
			tok, _ := fnUUID(nil, nil)
			cx.token = tok.(string)
		}
		cx.built = nil
	}
	in := eff
	if st.params != nil {
		v, err := st.params.eval(&scope{doc: eff, ctx: cx}, "Parameters")
		if err != nil {
			return nil, err
		}
		in = v
	}
	switch st.Type {
	case "Task":
		timeout := st.timeoutSeconds
		if st.timeoutPath != nil {
			v, ok := st.timeoutPath.get(eff)
			f, isNum := v.(float64)
			if !ok || !isNum || f < 1 {
				return nil, newErr(ErrRuntime, "Invalid path '%s': The TimeoutSecondsPath parameter does not reference a valid positive integer.", st.timeoutPath.src)
			}
			timeout = f
		}
		return th.task(ctx, st, in, cx, timeout)
	case "Parallel":
		return th.parallel(ctx, st, in)
	default:
		return th.mapState(ctx, st, in, cx)
	}
}

func (th *thread) task(ctx context.Context, st *State, in any, cx *contextObj, timeout float64) (any, *Error) {
	if th.ex.opts.Tasks == nil {
		return nil, &Error{Name: ErrTaskFailed, Cause: "no task resolver configured for resource " + st.resource}
	}
	params := marshal(in)
	th.emit(Event{Type: TaskScheduled, StateName: st.Name, Resource: st.resource, Input: params})
	tctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeout(ctx, time.Duration(timeout*float64(time.Second)))
		defer cancel()
	}
	th.emit(Event{Type: TaskStarted, StateName: st.Name, Resource: st.resource})
	key := th.nextKey()
	var out json.RawMessage
	var err error
	if stt, ok := th.ex.opts.Tasks.(StepTasks); ok {
		out, err = stt.InvokeStep(tctx, TaskCall{Key: key, State: st.Name, Resource: st.resource, Params: params, Token: cx.token,
			Timeout: time.Duration(timeout * float64(time.Second)), Heartbeat: time.Duration(st.heartbeatSeconds * float64(time.Second))})
	} else {
		out, err = th.ex.opts.Tasks.Invoke(tctx, st.resource, params, cx.token)
	}
	if err == nil && tctx.Err() != nil && ctx.Err() == nil {
		err = &Error{Name: ErrTimeout}
	}
	if err != nil {
		e := AsError(err)
		if tctx.Err() != nil && ctx.Err() == nil {
			e = &Error{Name: ErrTimeout}
			th.emit(Event{Type: TaskTimedOut, StateName: st.Name, Resource: st.resource, Error: e.Name})
			return nil, e
		}
		th.emit(Event{Type: TaskFailed, StateName: st.Name, Resource: st.resource, Error: e.Name, Cause: e.Cause})
		return nil, e
	}
	if len(out) > MaxPayload {
		return nil, newErr(ErrDataLimitExceeded, "The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", st.resource)
	}
	if len(out) == 0 {
		out = []byte("null")
	}
	v, derr := decodeJSON(out)
	if derr != nil {
		return nil, newErr(ErrTaskFailed, "The task result is not valid JSON: %v", derr)
	}
	th.emit(Event{Type: TaskSucceeded, StateName: st.Name, Resource: st.resource, Output: out})
	return v, nil
}

func (th *thread) parallel(ctx context.Context, st *State, in any) (any, *Error) {
	th.emit(Event{Type: ParallelStateStarted, StateName: st.Name})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make([]any, len(st.branches))
	var once sync.Once
	var first *Error
	f := newFork(th, len(st.branches))
	base := th.nextKey()
	for i, b := range st.branches {
		f.acquire(ctx)
		f.spawn(func() {
			sub := th.child(th.inMap, th.itemIndex, th.itemValue, base, "b", i)
			out, err := sub.runMachine(ctx, b, in)
			if err != nil {
				once.Do(func() { first = err; cancel() })
				return
			}
			results[i] = out
		})
	}
	f.wait()
	if first != nil {
		th.emit(Event{Type: ParallelStateFailed, StateName: st.Name, Error: first.Name, Cause: first.Cause})
		return nil, first
	}
	th.emit(Event{Type: ParallelStateSucceeded, StateName: st.Name})
	return results, nil
}

func (th *thread) mapState(ctx context.Context, st *State, in any, cx *contextObj) (any, *Error) {
	items := in
	if st.itemsPath != nil {
		v, ok := st.itemsPath.get(in)
		if !ok {
			return nil, newErr(ErrRuntime, "Invalid path '%s' : No results for path: %s", st.itemsPath.src, st.itemsPath.normalized())
		}
		items = v
	}
	arr, ok := items.([]any)
	if !ok {
		return nil, newErr(ErrRuntime, "Invalid path '%s' : The Map state's ItemsPath must reference a JSON array", pathSrc(st.itemsPath))
	}
	limit := st.maxConcurrency
	if st.maxConcPath != nil {
		v, ok := st.maxConcPath.get(in)
		n, isInt := asInt(v)
		if !ok || !isInt || n < 0 {
			return nil, newErr(ErrRuntime, "Invalid path '%s': The MaxConcurrencyPath parameter does not reference a valid non-negative integer.", st.maxConcPath.src)
		}
		limit = n
	}
	tolerated := -1 // -1: the first failure fails the Map
	if st.hasTolerance {
		tolerated = tolerance(st.toleratedCount, st.toleratedPct, len(arr))
	}
	var selector func(sub *thread, i int, item any) (any, *Error)
	if st.itemSelector != nil {
		selector = func(sub *thread, i int, item any) (any, *Error) {
			icx := &contextObj{ex: th.ex, th: sub, state: st.Name, entered: cx.entered, inMap: true, itemIndex: i, itemValue: item}
			return st.itemSelector.eval(&scope{doc: in, ctx: icx}, "ItemSelector")
		}
	}
	return th.runMap(ctx, st, arr, limit, tolerated, selector)
}

// tolerance is how many iterations may fail: count and percentage (-1
// when absent) both bound it.
func tolerance(count int, pct float64, n int) int {
	t := math.MaxInt
	if count >= 0 {
		t = count
	}
	if pct >= 0 {
		t = min(t, int(math.Floor(pct/100*float64(n))))
	}
	return t
}

// runMap runs the iterations, at most limit at once (0: no limit).
// tolerated -1 fails the Map on the first failed iteration.
func (th *thread) runMap(ctx context.Context, st *State, arr []any, limit, tolerated int, selector func(sub *thread, i int, item any) (any, *Error)) (any, *Error) {
	th.emit(Event{Type: MapStateStarted, StateName: st.Name, Length: len(arr)})
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if limit <= 0 || limit > len(arr) {
		limit = len(arr)
	}
	results := make([]any, len(arr))
	var mu sync.Mutex
	var first *Error
	failures := 0
	f := newFork(th, limit)
	base := th.nextKey()
	for i, item := range arr {
		if !f.acquire(ctx) || ctx.Err() != nil {
			break
		}
		f.spawn(func() {
			sub := th.child(true, i, item, base, "m", i)
			itemIn := item
			if selector != nil {
				// The iteration's thread: the selector's random
				// draws and recorded times are the iteration's, in
				// its goroutine.
				v, err := selector(sub, i, item)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					cancel()
					return
				}
				itemIn = v
			}
			sub.emit(Event{Type: MapIterationStarted, StateName: st.Name, Index: i})
			out, err := sub.runMachine(ctx, st.processor, itemIn)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				sub.emit(Event{Type: MapIterationFailed, StateName: st.Name, Index: i, Error: err.Name, Cause: err.Cause})
				failures++
				if failures > tolerated && first == nil {
					if tolerated >= 0 {
						first = &Error{Name: ErrExceedToleratedFailure, Cause: "The specified tolerated failure threshold was exceeded"}
					} else {
						first = err
					}
					cancel()
				}
				return
			}
			sub.emit(Event{Type: MapIterationSucceeded, StateName: st.Name, Index: i})
			results[i] = out
		})
	}
	f.wait()
	if first == nil && ctx.Err() != nil {
		first = &Error{Name: ErrTimeout, Cause: "The execution was stopped: " + ctx.Err().Error()}
	}
	if first != nil {
		th.emit(Event{Type: MapStateFailed, StateName: st.Name, Error: first.Name, Cause: first.Cause})
		return nil, first
	}
	th.emit(Event{Type: MapStateSucceeded, StateName: st.Name})
	return results, nil
}

func pathSrc(p *Path) string {
	if p == nil {
		return "$"
	}
	return p.src
}
