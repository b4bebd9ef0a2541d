package flow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// These tests drive the core with orchestrators written in Go against
// the same Run API the Wasm SDK reaches through host calls, and with a
// fake invoker whose "functions" are Go funcs; the store is a real SQLite
// file. The Wasm path is tested end to end in e2e/.

// wf is a workflow: Go code using the test context c.
type wf func(c *tctx, input json.RawMessage) (any, error)

type tctx struct {
	ctx context.Context
	r   *flow.Run
}

type suspended struct{}

type flowErr struct{ *wire.FlowError }

func (e flowErr) Error() string { return e.Type + ": " + e.Message }

func (c *tctx) schedule(req wire.FlowRequest) *wire.FlowResponse {
	req.Op = wire.FlowOpSchedule
	resp := c.r.Schedule(c.ctx, req)
	if resp.Suspend {
		panic(suspended{})
	}
	return resp
}

func (c *tctx) await(steps ...int) ([]wire.FlowResult, bool) {
	resp := c.r.Await(c.ctx, steps)
	if resp.Suspend {
		panic(suspended{})
	}
	return resp.Results, resp.Canceled
}

func (c *tctx) result(step int) (json.RawMessage, error) {
	res, canceled := c.await(step)
	if canceled {
		return nil, flowErr{&wire.FlowError{Type: wire.FlowErrCanceled, Message: "canceled"}}
	}
	if res[0].Error != nil {
		return nil, flowErr{res[0].Error}
	}
	return res[0].Output, nil
}

func (c *tctx) call(fn string, in any, retry *wire.FlowRetry) (json.RawMessage, error) {
	b, _ := json.Marshal(in)
	resp := c.schedule(wire.FlowRequest{Kind: wire.FlowCall, Name: fn, Input: b, Retry: retry})
	if resp.Error != nil {
		return nil, flowErr{resp.Error}
	}
	return c.result(resp.Step)
}

func (c *tctx) sleep(d time.Duration) error {
	resp := c.schedule(wire.FlowRequest{Kind: wire.FlowSleep, DurationMS: d.Milliseconds()})
	_, err := c.result(resp.Step)
	return err
}

func (c *tctx) signal(name string, timeout time.Duration) (json.RawMessage, error) {
	resp := c.schedule(wire.FlowRequest{Kind: wire.FlowSignal, Name: name, DurationMS: timeout.Milliseconds()})
	return c.result(resp.Step)
}

// orch runs wfs by name; tests swap them to change the "code".
type orch struct {
	mu     sync.Mutex
	wfs    map[string]wf
	passes int
}

func (o *orch) set(name string, f wf) {
	o.mu.Lock()
	o.wfs[name] = f
	o.mu.Unlock()
}

func (o *orch) Orchestrate(ctx context.Context, r *flow.Run) (out flow.Outcome, err error) {
	ex := r.Execution()
	o.mu.Lock()
	f := o.wfs[ex.Workflow]
	o.passes++
	o.mu.Unlock()
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(suspended); !ok {
				panic(p)
			}
			out = flow.Outcome{Suspended: true}
		}
	}()
	res, werr := f(&tctx{ctx: ctx, r: r}, ex.Input)
	var fe flowErr
	switch {
	case errors.As(werr, &fe):
		return flow.Outcome{Error: fe.FlowError}, nil
	case werr != nil:
		var can continueAsNew
		if errors.As(werr, &can) {
			return flow.Outcome{ContinueAsNew: json.RawMessage(can)}, nil
		}
		return flow.Outcome{Error: &wire.FlowError{Type: "WorkflowError", Message: werr.Error()}}, nil
	}
	b, _ := json.Marshal(res)
	return flow.Outcome{Output: b}, nil
}

type continueAsNew string

func (continueAsNew) Error() string { return "continue as new" }

// activities is a fake invoker: each function is a Go func; calls are
// counted per function and input.
type activities struct {
	mu       sync.Mutex
	fns      map[string]func(in json.RawMessage, attempt string) (int, string)
	calls    map[string]int
	throttle map[string]int // refusals for concurrency before a function runs
}

func (a *activities) Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error) {
	a.mu.Lock()
	f := a.fns[r.Function]
	a.calls[r.Function]++
	if a.throttle[r.Function] > 0 {
		a.throttle[r.Function]--
		a.mu.Unlock()
		return &invoke.Result{}, fmt.Errorf("%s at capacity: %w", r.Function, pool.ErrAtCapacity)
	}
	a.mu.Unlock()
	if f == nil {
		return &invoke.Result{}, fmt.Errorf("%w: %s", invoke.ErrNoFunction, r.Function)
	}
	attempt := ""
	for _, h := range r.Wire.Headers {
		if h.Name == wire.FlowAttemptHeader {
			attempt = h.Values[0]
		}
	}
	status, body := f(r.Wire.Body, attempt)
	return &invoke.Result{Response: &wire.Response{Status: status, Body: []byte(body)}}, nil
}

func (a *activities) count(fn string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[fn]
}

type harness struct {
	t    *testing.T
	path string
	st   store.Store
	o    *orch
	acts *activities
	e    *flow.Engine
	refs map[string]flow.WorkflowRef
	// projects names the project of a function; unlisted ones are "p".
	projects sync.Map
	// wrap, when set, wraps the store the engine is given.
	wrap func(flow.Store) flow.Store
	// tracer, when set, records the engine's spans.
	tracer *trace.Tracer
	// steps counts the activity attempts the engine reported (OnStep) by
	// "project/workflow/outcome".
	stepsMu sync.Mutex
	steps   map[string]int
}

func newHarness(t *testing.T) *harness {
	h := newHarnessNoOpen(t)
	h.open()
	t.Cleanup(h.close)
	return h
}

// newHarnessNoOpen is newHarness before its engine starts.
func newHarnessNoOpen(t *testing.T) *harness {
	h := &harness{
		t: t, path: filepath.Join(t.TempDir(), "strata.db"),
		o:    &orch{wfs: map[string]wf{}},
		acts: &activities{fns: map[string]func(json.RawMessage, string) (int, string){}, calls: map[string]int{}, throttle: map[string]int{}},
		refs: map[string]flow.WorkflowRef{}, steps: map[string]int{},
	}
	return h
}

func (h *harness) open() {
	st, err := sqlite.Open(context.Background(), h.path)
	require.NoError(h.t, err)
	h.st = st
	var fst flow.Store = st
	if h.wrap != nil {
		fst = h.wrap(st)
	}
	h.e = flow.New(flow.Config{
		Store: fst, Invoker: h.acts, Orchestrator: h.o, Hold: 100 * time.Millisecond, Poll: 20 * time.Millisecond,
		LeaseFor: 3 * time.Second, SweepEvery: 50 * time.Millisecond, Tracer: h.tracer,
		OnStep: func(project, workflow, outcome string, d time.Duration) {
			h.stepsMu.Lock()
			defer h.stepsMu.Unlock()
			h.steps[project+"/"+workflow+"/"+outcome]++
		},
		Workflows: func(name string) (flow.WorkflowRef, bool) {
			ref, ok := h.refs[name]
			return ref, ok
		},
		ProjectOf: func(fn string) string {
			if p, ok := h.projects.Load(fn); ok {
				return p.(string)
			}
			return "p"
		},
	})
	h.e.Run()
}

func (h *harness) close() {
	if h.e != nil {
		h.e.Close()
		h.e = nil
		_ = h.st.Close()
	}
}

// restart stops the engine (as a crash would, leaving leases behind) and
// opens a new one on the same file.
func (h *harness) restart() {
	h.close()
	h.open()
}

func (h *harness) workflow(name string, f wf) {
	h.refs[name] = flow.WorkflowRef{Function: name + "-fn", Project: "p", Config: record.WorkflowConfig{Name: name, HistoryLimit: 200}}
	h.o.set(name, f)
}

func (h *harness) activity(name string, f func(in json.RawMessage, attempt string) (int, string)) {
	h.acts.mu.Lock()
	h.acts.fns[name] = f
	h.acts.mu.Unlock()
}

func (h *harness) start(workflow, id string, input string) *record.FlowExecution {
	ex, _, err := h.e.Start(context.Background(), flow.StartParams{Workflow: workflow, ID: id, Input: []byte(input)})
	require.NoError(h.t, err)
	return ex
}

// wait polls until the execution is not running and returns it.
func (h *harness) wait(id string) *record.FlowExecution {
	h.t.Helper()
	var ex *record.FlowExecution
	require.Eventually(h.t, func() bool {
		var err error
		ex, err = h.e.Get(context.Background(), flow.AllProjects, id)
		require.NoError(h.t, err)
		return ex.Status != record.FlowRunning
	}, 20*time.Second, 5*time.Millisecond, "execution %s still running", id)
	return ex
}

func (h *harness) history(id string) []string {
	evs, err := h.e.History(context.Background(), flow.AllProjects, id, 0)
	require.NoError(h.t, err)
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
		if ev.Step > 0 {
			out[i] = fmt.Sprintf("%s#%d", ev.Type, ev.Step)
		}
	}
	return out
}

func echo(in json.RawMessage, _ string) (int, string) { return 200, string(in) }

func threeSteps(c *tctx, in json.RawMessage) (any, error) {
	var n int
	_ = json.Unmarshal(in, &n)
	for _, fn := range []string{"add", "add", "double"} {
		out, err := c.call(fn, n, nil)
		if err != nil {
			return nil, err
		}
		_ = json.Unmarshal(out, &n)
	}
	return n, nil
}

func addDouble(h *harness) {
	h.activity("add", func(in json.RawMessage, _ string) (int, string) {
		var n int
		_ = json.Unmarshal(in, &n)
		return 200, fmt.Sprint(n + 1)
	})
	h.activity("double", func(in json.RawMessage, _ string) (int, string) {
		var n int
		_ = json.Unmarshal(in, &n)
		return 200, fmt.Sprint(n * 2)
	})
}

func TestThreeStepsComplete(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("calc", threeSteps)
	h.start("calc", "calc-1", "1")
	ex := h.wait("calc-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, "6", string(ex.Output))
	require.Equal(t, []string{"started",
		"call_scheduled#1", "call_completed#1", "call_scheduled#2", "call_completed#2",
		"call_scheduled#3", "call_completed#3", "completed"}, h.history("calc-1"))
	require.Len(t, ex.TraceID, 32)

	// The id is the idempotency key: starting it again runs nothing.
	again, created, err := h.e.Start(context.Background(), flow.StartParams{Workflow: "calc", ID: "calc-1", Input: []byte("5")})
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, record.FlowCompleted, again.Status)
	require.Equal(t, 2, h.acts.count("add"))
}

func TestStartRejectsBadInput(t *testing.T) {
	h := newHarness(t)
	h.workflow("calc", threeSteps)
	_, _, err := h.e.Start(context.Background(), flow.StartParams{Workflow: "nope"})
	require.ErrorIs(t, err, flow.ErrUnknownWorkflow)
	_, _, err = h.e.Start(context.Background(), flow.StartParams{Workflow: "calc", Input: []byte("{not json")})
	require.ErrorIs(t, err, flow.ErrBadInput)
	_, _, err = h.e.Start(context.Background(), flow.StartParams{Workflow: "calc", Input: []byte(`"` + strings.Repeat("x", flow.MaxPayload) + `"`)})
	require.ErrorIs(t, err, flow.ErrPayloadTooLarge)
	_, _, err = h.e.Start(context.Background(), flow.StartParams{Workflow: "calc", ID: "has space"})
	require.ErrorIs(t, err, flow.ErrBadInput)
	require.ErrorIs(t, h.e.Signal(context.Background(), "p", "missing", "go", nil), store.ErrNotFound)
}

func TestDurableTimerSurvivesRestart(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("nap", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		if err := c.sleep(600 * time.Millisecond); err != nil {
			return nil, err
		}
		return c.call("double", 2, nil)
	})
	h.start("nap", "nap-1", "null")
	// Kill while the timer runs: once the timer is in the store, the
	// first step's result is too.
	require.Eventually(t, func() bool { return slices.Contains(h.history("nap-1"), "timer_started#2") }, 5*time.Second, time.Millisecond)
	h.restart()
	ex := h.wait("nap-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, "4", string(ex.Output))
	require.Equal(t, 1, h.acts.count("add"), "a completed activity ran again after the restart")
	require.Contains(t, h.history("nap-1"), "timer_fired#2")
}

func TestSignalsBufferedAndTimeout(t *testing.T) {
	h := newHarness(t)
	h.workflow("approve", func(c *tctx, in json.RawMessage) (any, error) {
		v, err := c.signal("approval", 5*time.Second)
		if err != nil {
			return nil, err
		}
		_, err = c.signal("never", 300*time.Millisecond)
		var fe flowErr
		if !errors.As(err, &fe) || fe.Type != wire.FlowErrTimeout {
			return nil, fmt.Errorf("want a timeout, got %v", err)
		}
		return v, nil
	})
	ex := h.start("approve", "a-1", "null")
	// Sent early, before anything waits: kept until consumed.
	require.NoError(t, h.e.Signal(context.Background(), "p", ex.ID, "unrelated", []byte(`1`)))
	require.NoError(t, h.e.Signal(context.Background(), "p", ex.ID, "approval", []byte(`{"ok":true}`)))
	done := h.wait("a-1")
	require.Equal(t, record.FlowCompleted, done.Status, string(done.Error))
	require.JSONEq(t, `{"ok":true}`, string(done.Output))
	require.ErrorIs(t, h.e.Signal(context.Background(), "p", ex.ID, "approval", []byte(`1`)), store.ErrClosed)
	require.ErrorIs(t, h.e.Cancel(context.Background(), "p", ex.ID, "late"), store.ErrClosed)
}

func TestRetriesThenTypedFailure(t *testing.T) {
	h := newHarness(t)
	h.activity("flaky", func(in json.RawMessage, attempt string) (int, string) {
		if attempt != "3" {
			return 503, "busy"
		}
		return 200, `"ok"`
	})
	h.activity("broken", func(json.RawMessage, string) (int, string) {
		return 500, `{"error":{"type":"CardDeclined","message":"insufficient funds","non_retryable":true}}`
	})
	h.activity("compensate", echo)
	h.workflow("saga", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("flaky", 1, &wire.FlowRetry{MaxAttempts: 5, InitialMS: 10}); err != nil {
			return nil, err
		}
		if _, err := c.call("broken", 2, &wire.FlowRetry{MaxAttempts: 5, InitialMS: 10}); err != nil {
			var fe flowErr
			if errors.As(err, &fe) && fe.Type == "CardDeclined" && fe.Step == 2 && fe.Attempts == 1 {
				if _, cerr := c.call("compensate", 3, nil); cerr != nil {
					return nil, cerr
				}
			}
			return nil, err
		}
		return "unreachable", nil
	})
	h.start("saga", "s-1", "null")
	ex := h.wait("s-1")
	require.Equal(t, record.FlowFailed, ex.Status)
	var fe wire.FlowError
	require.NoError(t, json.Unmarshal(ex.Error, &fe))
	require.Equal(t, "CardDeclined", fe.Type)
	require.Equal(t, 2, fe.Step)
	require.Equal(t, 3, h.acts.count("flaky"))
	require.Equal(t, 1, h.acts.count("broken"))
	require.Equal(t, 1, h.acts.count("compensate"))
	hist := h.history("s-1")
	require.Equal(t, 2, count(hist, "call_retrying#1"))
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

func TestNonDeterminismFailsClearlyAndRestartRecovers(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("calc", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		return c.signal("go", 0)
	})
	h.start("calc", "nd-1", "null")
	require.Eventually(t, func() bool { return h.acts.count("add") == 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(200 * time.Millisecond) // let it suspend on the signal
	// The code changes under the running execution.
	h.workflow("calc", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("double", 1, nil); err != nil {
			return nil, err
		}
		return c.signal("go", 0)
	})
	require.NoError(t, h.e.Signal(context.Background(), "p", "nd-1", "go", []byte(`7`)))
	ex := h.wait("nd-1")
	require.Equal(t, record.FlowFailed, ex.Status)
	var fe wire.FlowError
	require.NoError(t, json.Unmarshal(ex.Error, &fe))
	require.Equal(t, wire.FlowErrNonDeterminism, fe.Type)
	require.Equal(t, 1, fe.Step)
	require.Contains(t, fe.Message, `call "add"`)
	require.Contains(t, fe.Message, `call "double"`)
	require.Equal(t, 0, h.acts.count("double"))
	hist := h.history("nd-1")
	require.Equal(t, "call_completed#1", hist[2], "history before the failure is intact")

	// The fix is deployed; restarting from the failure keeps step 1.
	h.workflow("calc", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		return c.signal("go", 0)
	})
	_, err := h.e.Restart(context.Background(), "p", "nd-1", true)
	require.NoError(t, err)
	// The signal the failed replay never reached was kept with the
	// failed execution: the restart consumes it.
	ex = h.wait("nd-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, "7", string(ex.Output))
	require.Equal(t, 1, h.acts.count("add"))
}

func TestCancelRunsCompensationAndReachesChildren(t *testing.T) {
	h := newHarness(t)
	h.activity("undo", echo)
	h.workflow("child", func(c *tctx, in json.RawMessage) (any, error) {
		return c.signal("never", 0)
	})
	h.workflow("parent", func(c *tctx, in json.RawMessage) (any, error) {
		resp := c.schedule(wire.FlowRequest{Kind: wire.FlowChild, Name: "child", Input: []byte(`1`)})
		_, err := c.result(resp.Step)
		if err != nil {
			if _, cerr := c.call("undo", "compensate", nil); cerr != nil {
				return nil, cerr
			}
		}
		return nil, err
	})
	h.start("parent", "p-1", "null")
	require.Eventually(t, func() bool {
		ex, err := h.e.Get(context.Background(), "p", "p-1/1/1")
		return err == nil && ex.Status == record.FlowRunning
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, h.e.Cancel(context.Background(), "p", "p-1", "customer changed their mind"))
	ex := h.wait("p-1")
	require.Equal(t, record.FlowCanceled, ex.Status, string(ex.Error))
	require.Equal(t, 1, h.acts.count("undo"))
	child := h.wait("p-1/1/1")
	require.Equal(t, record.FlowCanceled, child.Status)
	require.Equal(t, "p-1", child.ParentID)
}

func TestChildResultAndContinueAsNew(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("calc", threeSteps)
	h.workflow("loop", func(c *tctx, in json.RawMessage) (any, error) {
		var n int
		_ = json.Unmarshal(in, &n)
		resp := c.schedule(wire.FlowRequest{Kind: wire.FlowChild, Name: "calc", Input: in})
		out, err := c.result(resp.Step)
		if err != nil {
			return nil, err
		}
		var m int
		_ = json.Unmarshal(out, &m)
		if m < 100 {
			return nil, continueAsNew(fmt.Sprint(m))
		}
		return m, nil
	})
	h.start("loop", "l-1", "0")
	ex := h.wait("l-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	// 0 → 4 → 12 → 28 → 60 → 124, one run each.
	require.JSONEq(t, "124", string(ex.Output))
	require.Equal(t, 5, ex.Run)
	first, err := h.e.History(context.Background(), "p", "l-1", 1)
	require.NoError(t, err)
	require.Equal(t, flow.EvContinued, first[len(first)-1].Type)
}

func TestHistoryLimitAndTerminate(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("endless", func(c *tctx, in json.RawMessage) (any, error) {
		for {
			if _, err := c.call("add", 1, nil); err != nil {
				return nil, err
			}
		}
	})
	h.start("endless", "e-1", "null")
	ex := h.wait("e-1")
	require.Equal(t, record.FlowFailed, ex.Status)
	require.Contains(t, string(ex.Error), wire.FlowErrHistoryLimit)
	require.LessOrEqual(t, ex.HistoryLen, 202)

	h.workflow("waiter", func(c *tctx, in json.RawMessage) (any, error) { return c.signal("x", 0) })
	h.start("waiter", "w-1", "null")
	require.NoError(t, h.e.Terminate(context.Background(), "p", "w-1", "stuck"))
	ex = h.wait("w-1")
	require.Equal(t, record.FlowTerminated, ex.Status)
	require.ErrorIs(t, h.e.Terminate(context.Background(), "p", "w-1", "again"), store.ErrClosed)
	_, err := h.e.Restart(context.Background(), "p", "w-1", false)
	require.NoError(t, err)
	require.NoError(t, h.e.Signal(context.Background(), "p", "w-1", "x", []byte(`"second run"`)))
	ex = h.wait("w-1")
	require.Equal(t, record.FlowCompleted, ex.Status)
	require.Equal(t, 2, ex.Run)
}

// A step refused for concurrency is retried without spending an attempt,
// and the pass ends meanwhile, so the orchestrator does not hold an
// instance its own activity may need.
func TestThrottledStepEndsThePassAndSpendsNoAttempt(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.acts.mu.Lock()
	h.acts.throttle["add"] = 3
	h.acts.mu.Unlock()
	h.workflow("calc", threeSteps)
	h.start("calc", "th-1", "1")
	ex := h.wait("th-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, "6", string(ex.Output))
	require.Equal(t, 5, h.acts.count("add"), "3 refusals and 2 runs")
	h.stepsMu.Lock()
	require.Equal(t, map[string]int{"p/calc/throttled": 3, "p/calc/ok": 2 + h.acts.count("double")}, h.steps, "every attempt is reported once, refusals as throttled")
	h.stepsMu.Unlock()
	require.Zero(t, count(h.history("th-1"), "call_retrying#1"), "refusals spend no attempt")
	h.o.mu.Lock()
	passes := h.o.passes
	h.o.mu.Unlock()
	require.Greater(t, passes, 1, "the pass ended while the step was throttled")
}

func (c *tctx) version(change string, lo, hi int) int {
	resp := c.schedule(wire.FlowRequest{Kind: wire.FlowVersion, Name: change, Min: lo, Max: hi})
	var v int
	_ = json.Unmarshal(resp.Value, &v)
	return v
}

// A version marker lets code change under running executions: an
// execution whose history predates the marker replays the old branch, a
// new one records the new version and takes the new branch.
func TestVersionMarkerKeepsOldExecutionsReplaying(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("v", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		return c.signal("go", 0)
	})
	h.start("v", "old", "null")
	require.Eventually(t, func() bool { return slices.Contains(h.history("old"), "signal_waiting#2") }, 5*time.Second, time.Millisecond)

	h.workflow("v", func(c *tctx, in json.RawMessage) (any, error) {
		if c.version("double-first", 0, 1) == 1 {
			if _, err := c.call("double", 1, nil); err != nil {
				return nil, err
			}
		}
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		return c.signal("go", 0)
	})
	require.NoError(t, h.e.Signal(context.Background(), "p", "old", "go", []byte(`"old"`)))
	ex := h.wait("old")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.Equal(t, 0, h.acts.count("double"), "the old execution took the old branch")

	h.start("v", "new", "null")
	require.NoError(t, h.e.Signal(context.Background(), "p", "new", "go", []byte(`"new"`)))
	ex = h.wait("new")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.Equal(t, 1, h.acts.count("double"))
	require.Equal(t, []string{"started", "marker#1", "call_scheduled#2", "call_completed#2",
		"call_scheduled#3", "call_completed#3", "signal_waiting#4", "signal_received#4", "completed"}, h.history("new"))
}

// A step's schedule-to-close timeout bounds all its attempts with their
// waits: no retry is scheduled past it.
func TestScheduleToCloseStopsRetries(t *testing.T) {
	h := newHarness(t)
	h.activity("down", func(json.RawMessage, string) (int, string) { return 503, "down" })
	h.workflow("s2c", func(c *tctx, in json.RawMessage) (any, error) {
		resp := c.schedule(wire.FlowRequest{Kind: wire.FlowCall, Name: "down",
			Retry: &wire.FlowRetry{MaxAttempts: 10, InitialMS: 100}, Timeouts: &wire.FlowTimeouts{ScheduleToCloseMS: 250}})
		return c.result(resp.Step)
	})
	h.start("s2c", "s2c-1", "null")
	ex := h.wait("s2c-1")
	require.Equal(t, record.FlowFailed, ex.Status)
	var fe wire.FlowError
	require.NoError(t, json.Unmarshal(ex.Error, &fe))
	require.Equal(t, "HTTP 503", fe.Type)
	require.Equal(t, 2, fe.Attempts)
	require.Contains(t, fe.Message, "schedule-to-close timeout of 250ms")
	require.Equal(t, 2, h.acts.count("down"))
}

// Restarting a parent from a failed child step restarts the child from
// its own failure: the fixed step runs, the child completes and the parent
// hears of it; nothing else runs again.
func TestRestartFromFailedChild(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	broken := true
	var mu sync.Mutex
	h.activity("fragile", func(in json.RawMessage, _ string) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return 500, `{"error":{"type":"Bug","message":"not yet","non_retryable":true}}`
		}
		return 200, string(in)
	})
	h.workflow("kid", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("add", 1, nil); err != nil {
			return nil, err
		}
		return c.call("fragile", in, nil)
	})
	h.workflow("mom", func(c *tctx, in json.RawMessage) (any, error) {
		if _, err := c.call("double", 1, nil); err != nil {
			return nil, err
		}
		resp := c.schedule(wire.FlowRequest{Kind: wire.FlowChild, Name: "kid", Input: []byte(`"fixed"`)})
		return c.result(resp.Step)
	})
	h.start("mom", "mom-1", "null")
	ex := h.wait("mom-1")
	require.Equal(t, record.FlowFailed, ex.Status)
	require.Contains(t, string(ex.Error), `"Bug"`)
	require.Equal(t, record.FlowFailed, h.wait("mom-1/1/2").Status)

	mu.Lock()
	broken = false
	mu.Unlock()
	_, err := h.e.Restart(context.Background(), "p", "mom-1", true)
	require.NoError(t, err)
	ex = h.wait("mom-1")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.JSONEq(t, `"fixed"`, string(ex.Output))
	require.Equal(t, record.FlowCompleted, h.wait("mom-1/1/2").Status)
	require.Equal(t, 1, h.acts.count("double"))
	require.Equal(t, 1, h.acts.count("add"))
	require.Equal(t, 2, h.acts.count("fragile"))
}

// A child id that another execution holds is refused at the command, not
// left to wait for a child that will never report.
func TestChildIDTaken(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("calc", threeSteps)
	h.start("calc", "taken", "1")
	h.wait("taken")
	h.workflow("p", func(c *tctx, in json.RawMessage) (any, error) {
		resp := c.schedule(wire.FlowRequest{Kind: wire.FlowChild, Name: "calc", ID: "taken", Input: []byte(`1`)})
		if resp.Error == nil {
			return nil, errors.New("a taken child id was accepted")
		}
		return resp.Error.Message, nil
	})
	h.start("p", "p-taken", "null")
	ex := h.wait("p-taken")
	require.Equal(t, record.FlowCompleted, ex.Status, string(ex.Error))
	require.Contains(t, string(ex.Output), `child id \"taken\" is taken by another execution`)
	// Nothing about the holder: it may be another project's.
	require.NotContains(t, string(ex.Output), "calc")
	require.NotContains(t, string(ex.Output), "completed")
}

// Finished executions are deleted with their history once their
// workflow's retention has passed; running ones are not.
func TestRetentionSweepsFinishedExecutions(t *testing.T) {
	h := newHarness(t)
	addDouble(h)
	h.workflow("calc", threeSteps)
	ref := h.refs["calc"]
	// Long enough for h.wait to see it closed before the sweep takes it.
	ref.Config.Retention = time.Second
	h.refs["calc"] = ref
	h.workflow("waiter", func(c *tctx, in json.RawMessage) (any, error) { return c.signal("x", 0) })
	h.start("calc", "short-lived", "1")
	h.start("waiter", "long-lived", "null")
	require.Equal(t, record.FlowCompleted, h.wait("short-lived").Status)
	require.Eventually(t, func() bool {
		_, err := h.e.Get(context.Background(), "p", "short-lived")
		return errors.Is(err, store.ErrNotFound)
	}, 10*time.Second, 20*time.Millisecond, "a finished execution outlived its retention")
	_, err := h.e.History(context.Background(), "p", "short-lived", 1)
	require.ErrorIs(t, err, store.ErrNotFound)
	ex, err := h.e.Get(context.Background(), "p", "long-lived")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status)
}

// A durable timer may be a year long: it is the task's due time.
func TestYearLongTimer(t *testing.T) {
	h := newHarness(t)
	h.workflow("nap", func(c *tctx, in json.RawMessage) (any, error) { return nil, c.sleep(365 * 24 * time.Hour) })
	before := time.Now()
	h.start("nap", "year", "null")
	require.Eventually(t, func() bool {
		due, ok, err := h.st.FlowNextDue(context.Background())
		return err == nil && ok && due.After(before.Add(364*24*time.Hour))
	}, 5*time.Second, 10*time.Millisecond, "the timer is not the task's due time")
	ex, err := h.e.Get(context.Background(), "p", "year")
	require.NoError(t, err)
	require.Equal(t, record.FlowRunning, ex.Status)
	require.Contains(t, h.history("year"), "timer_started#1")
}
