package flow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/stratahq/strata/internal/batch"
	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Store is the part of the store the engine uses.
type Store interface {
	store.Flow
}

// Invoker runs activities (and, through the code orchestrator,
// orchestrators): *invoke.Invoker.
type Invoker interface {
	Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error)
}

// Orchestrator advances a run: it runs the execution's orchestrator code
// once over r, which answers its commands from the history and records
// new ones (Run.Schedule, Run.Await). It returns the outcome, or an error
// when the code could not run at all (missing function, trap, timeout).
type Orchestrator interface {
	Orchestrate(ctx context.Context, r *Run) (Outcome, error)
}

// Outcome is what one orchestrator pass ended with.
type Outcome = wire.FlowOutcome

// WorkflowRef is where a workflow's code lives and how it is configured.
type WorkflowRef struct {
	Function string
	Project  string
	Config   record.WorkflowConfig
}

// Config configures an Engine.
type Config struct {
	Store        Store
	Invoker      Invoker
	Orchestrator Orchestrator
	// Workflows resolves a workflow name from the active deploys.
	Workflows func(name string) (WorkflowRef, bool)
	// Published, when set, is told of every message this node sends to
	// an execution (a signal, a cancel, a child's end), to tell the node
	// that runs it (Wake).
	Published func(executionID string)
	// Qualify, when set, turns a workflow name and id a caller of project
	// gave (a start, a child) into the ones the engine keeps: a state
	// machine named "states:NAME" becomes that project's machine (package
	// sfn). It returns names it does not know unchanged.
	Qualify func(project, workflow, id string) (string, string)
	// ProjectOf names the project of a deployed function ("" for none).
	// Required: an execution calls activities and runs its orchestrator
	// only within its own project, so a workflow cannot run another
	// project's function with that project's env and secrets.
	ProjectOf func(function string) string
	Clock     clock.Clock
	Logger    *slog.Logger
	// Node names this engine in leases ("" → a random name).
	Node string
	// LeaseFor is how long a claimed task stays leased without renewal
	// (default 30 s): how soon another node takes over a crashed one's
	// executions.
	LeaseFor time.Duration
	// MaxRuns bounds the executions this node runs at once (default 512).
	MaxRuns int
	// Poll is how often the engine looks for due tasks when nothing woke
	// it (default 500 ms): other nodes' signals and timers.
	Poll time.Duration
	// SweepEvery is how often finished executions past their retention
	// are deleted (default 1 min).
	SweepEvery time.Duration
	// OnClose, when set, hears of every execution this node closes,
	// after the close is committed (benchmarks and tests wait on it).
	OnClose func(id, status string)
	// OnStep, when set, hears of every activity attempt this node ran:
	// the execution's project and workflow, the outcome (ok, error or
	// throttled: refused for capacity, tried again at no cost) and its
	// wall time (the metrics).
	OnStep func(project, workflow, outcome string, d time.Duration)
	// Hold is the longest wait (a timer, a retry backoff) a run sits out
	// in memory; longer waits release the task and end the pass (default
	// 2 s).
	Hold time.Duration
	// Tracer records the executions' spans (start, runs, steps, timers,
	// signals); nil records none.
	Tracer *trace.Tracer
}

// Engine runs executions: it starts them, claims their tasks, drives
// their runs and answers the admin API.
type Engine struct {
	cfg     Config
	commits batch.Batcher[store.FlowCommit, struct{}]
	starts  batch.Batcher[store.FlowStartParams, store.FlowStarted]

	mu     sync.Mutex
	runs   map[string]*Run // executions this node holds a lease on
	wake   chan struct{}
	slots  chan struct{}
	closed bool
	wg     sync.WaitGroup
	cancel context.CancelFunc
	ctx    context.Context
}

// New returns an engine; Run starts its loops.
func New(cfg Config) *Engine {
	if cfg.ProjectOf == nil {
		panic("flow: Config.ProjectOf is required (executions call only their own project's functions)")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Node == "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Node = "node-" + hex.EncodeToString(b)
	}
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = 30 * time.Second
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = 512
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 500 * time.Millisecond
	}
	if cfg.Hold <= 0 {
		cfg.Hold = 2 * time.Second
	}
	if cfg.SweepEvery <= 0 {
		cfg.SweepEvery = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{
		cfg: cfg, runs: make(map[string]*Run), wake: make(chan struct{}, 1),
		slots: make(chan struct{}, cfg.MaxRuns), ctx: ctx, cancel: cancel,
	}
	// Concurrent executions' commits and starts share transactions.
	e.commits.Run = func(ctx context.Context, cs []store.FlowCommit) ([]struct{}, []error) {
		return nil, cfg.Store.FlowCommitBatch(ctx, cs, cfg.Clock.Now())
	}
	e.starts.Run = func(ctx context.Context, ps []store.FlowStartParams) ([]store.FlowStarted, []error) {
		return batch.AllOrEach(ctx, ps, func(ctx context.Context, ps []store.FlowStartParams) ([]store.FlowStarted, error) {
			return cfg.Store.FlowStartBatch(ctx, ps, cfg.Clock.Now())
		})
	}
	return e
}

// Start loops: claim due tasks, renew leases, sweep expired executions.
// They stop with Close.
func (e *Engine) Run() {
	e.wg.Add(3)
	go func() { defer e.wg.Done(); e.claimLoop() }()
	go func() { defer e.wg.Done(); e.renewLoop() }()
	go func() { defer e.wg.Done(); e.sweepLoop() }()
}

// Close stops the loops and the runs in progress (their leases lapse and
// another node, or the next start, picks them up), waiting for them.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) newLease() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return e.cfg.Node + "/" + hex.EncodeToString(b)
}

// Start starts an execution, or returns the existing one with that ID
// (created false). A created execution runs on this node at once.
func (e *Engine) Start(ctx context.Context, p StartParams) (*record.FlowExecution, bool, error) {
	return e.start(ctx, p, "", 0)
}

func (e *Engine) start(ctx context.Context, p StartParams, parent string, parentStep int) (*record.FlowExecution, bool, error) {
	sp, err := e.startParams(ctx, p, parent, parentStep)
	if err != nil {
		return nil, false, err
	}
	now := e.now()
	sp.Lease, sp.LeaseUntil = e.newLease(), now.Add(e.cfg.LeaseFor)
	// The new execution runs here at once, from what its start writes: no
	// need to read it back. Its first orchestrator pass begins while the
	// start commits; whatever the pass causes (an activity, a commit)
	// waits for that commit (Run.startDurable), and nothing happens at all
	// if the start fails or finds the id taken.
	task := record.FlowTask{ExecutionID: sp.Execution.ID, Lease: sp.Lease, LeaseUntil: sp.LeaseUntil, Attempts: 1}
	ex := sp.Execution
	ex.Run, ex.Status, ex.HistoryLen = 1, record.FlowRunning, len(sp.Events)
	gate := &startGate{done: make(chan struct{})}
	early := storedAsIs(ex) && e.launchNew(task, &preloaded{exec: ex, events: sp.Events, started: gate, fresh: p.ID == ""})
	res, err := e.starts.Do(ctx, *sp)
	if early {
		gate.ok = err == nil && res.Created
		close(gate.done)
	}
	if err != nil {
		return nil, false, fmt.Errorf("start %s: %w", p.Workflow, err)
	}
	if !res.Created {
		p.Workflow = sp.Execution.Workflow // as qualified
		if err := sameExecution(res.Execution, p, sp.Execution.ID); err != nil {
			return nil, false, err
		}
	}
	if res.Created && !early {
		e.launch(task, &preloaded{exec: *res.Execution, events: sp.Events})
	}
	return res.Execution, res.Created, nil
}

// startGate tells a run launched with its start (Engine.start) whether
// that start committed: ok is set before done is closed.
type startGate struct {
	done chan struct{}
	ok   bool
}

// storedAsIs reports whether the store keeps an execution's text as it
// is (valid UTF-8 without NUL), so that a run launched before the store
// answers holds what the store will.
func storedAsIs(ex record.FlowExecution) bool {
	for _, s := range []string{ex.ID, ex.Project, ex.Workflow, ex.Function, ex.TraceID, ex.ParentID} {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return false
		}
	}
	return true
}

// sameExecution checks that an existing execution found under a start's
// id is the one the start asks for: of its project and workflow. Anything
// else is refused with an error that names only the id, whoever holds it.
func sameExecution(ex *record.FlowExecution, p StartParams, id string) error {
	if (p.Project != AllProjects && ex.Project != p.Project) || ex.Workflow != p.Workflow {
		return fmt.Errorf("%w: %q is in use by another execution; start with another id (or none for a new one)", ErrIDTaken, id)
	}
	return nil
}

// notFound is the error for an execution a caller of project cannot see:
// the same whether the id is unknown or held by another project, so it
// tells nothing of other projects' executions.
func notFound(project, id string) error {
	if project == AllProjects {
		return store.NotFound("execution", id)
	}
	return &store.NotFoundError{Kind: "execution", Name: id, More: "in project " + project}
}

// get reads an execution the caller of project may reach (AllProjects:
// any).
func (e *Engine) get(ctx context.Context, project, id string) (*record.FlowExecution, error) {
	ex, err := e.cfg.Store.FlowGet(ctx, id)
	if project == AllProjects {
		return ex, err
	}
	if errors.Is(err, store.ErrNotFound) || (err == nil && ex.Project != project) {
		return nil, notFound(project, id)
	}
	return ex, err
}

// preloaded is a new execution's state as its starter wrote it.
type preloaded struct {
	exec   record.FlowExecution
	events []record.FlowEvent
	// started, when set, opens once the start is committed (or failed):
	// the run was launched before.
	started *startGate
	// fresh: the engine chose the id (a new UUIDv7), so no execution
	// holds it already.
	fresh bool
}

// startParams validates a start and builds its first event.
func (e *Engine) startParams(ctx context.Context, p StartParams, parent string, parentStep int) (*store.FlowStartParams, error) {
	if q := e.cfg.Qualify; q != nil && p.Project != AllProjects {
		p.Workflow, p.ID = q(p.Project, p.Workflow, p.ID)
	}
	ref, ok := e.cfg.Workflows(p.Workflow)
	if !ok || (p.Project != "" && ref.Project != p.Project) {
		return nil, fmt.Errorf("%w: %q (no active function declares it under workflows: in strata.yaml)", ErrUnknownWorkflow, p.Workflow)
	}
	id := p.ID
	if id == "" {
		v, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		id = v.String()
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	input := p.Input
	if len(input) == 0 {
		input = []byte("null")
	}
	if len(input) > MaxPayload {
		return nil, fmt.Errorf("%w: input of %d bytes (at most %d)", ErrPayloadTooLarge, len(input), MaxPayload)
	}
	if !json.Valid(input) {
		return nil, fmt.Errorf("%w: input is not valid JSON", ErrBadInput)
	}
	starter := e.startSpan(ctx, trace.HeaderOr(ctx, p.TraceParent), p, ref.Project, id)
	trace := trace.New(starter)
	if trace.ParentID == "" {
		starter = "" // malformed or absent: the execution starts its trace
	}
	now := e.now()
	data, _ := json.Marshal(startedData{Input: input, TraceID: trace.TraceID, Parent: parent, ParentStep: parentStep, TraceParent: starter})
	return &store.FlowStartParams{
		Execution: record.FlowExecution{
			ID: id, Project: ref.Project, Workflow: p.Workflow, Function: ref.Function,
			Input: input, TraceID: trace.TraceID, ParentID: parent, ParentStep: parentStep,
		},
		Events: startEvents(p, data, now),
		DueAt:  now,
	}, nil
}

func checkID(id string) error {
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: execution id of %d bytes (at most %d)", ErrBadInput, len(id), MaxIDLength)
	}
	for _, c := range id {
		if c < 0x21 || c == 0x7f {
			return fmt.Errorf("%w: execution id %q holds a space or control character", ErrBadInput, id)
		}
	}
	return nil
}

// Get returns an execution of project (AllProjects: of any).
func (e *Engine) Get(ctx context.Context, project, id string) (*record.FlowExecution, error) {
	return e.get(ctx, project, id)
}

// List lists executions.
func (e *Engine) List(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	return e.cfg.Store.FlowList(ctx, p)
}

// History returns the events of run (0: the current run) of an
// execution of project (AllProjects: of any).
func (e *Engine) History(ctx context.Context, project, id string, run int) ([]record.FlowEvent, error) {
	ex, err := e.get(ctx, project, id)
	if err != nil {
		return nil, err
	}
	if run <= 0 {
		run = ex.Run
	}
	return e.cfg.Store.FlowHistory(ctx, id, run, 0, 0)
}

// Signal sends signal name with a JSON value to a running execution of
// project (AllProjects: of any). It waits in the execution's inbox until a
// WaitSignal consumes it.
func (e *Engine) Signal(ctx context.Context, project, id, name string, value []byte) error {
	if name == "" {
		return fmt.Errorf("%w: empty signal name", ErrBadInput)
	}
	if len(value) == 0 {
		value = []byte("null")
	}
	if len(value) > MaxPayload {
		return fmt.Errorf("%w: signal value of %d bytes (at most %d)", ErrPayloadTooLarge, len(value), MaxPayload)
	}
	if !json.Valid(value) {
		return fmt.Errorf("%w: signal value is not valid JSON", ErrBadInput)
	}
	ex, err := e.get(ctx, project, id)
	if err != nil {
		return err
	}
	e.signalSpan(ctx, ex.Project, id, name)
	return e.send(ctx, record.FlowInbox{ExecutionID: id, Kind: record.InboxSignal, Name: name, Data: value})
}

// Cancel asks a running execution of project (AllProjects: of any) to
// cancel: its code sees Canceled at its next wait and may compensate; its
// running children are asked too.
func (e *Engine) Cancel(ctx context.Context, project, id, reason string) error {
	if _, err := e.get(ctx, project, id); err != nil {
		return err
	}
	data, _ := json.Marshal(reason)
	return e.send(ctx, record.FlowInbox{ExecutionID: id, Kind: record.InboxCancel, Data: data})
}

func (e *Engine) send(ctx context.Context, m record.FlowInbox) error {
	m.Time = e.now()
	if _, err := e.cfg.Store.FlowSend(ctx, m, m.Time); err != nil {
		return err // the store's error names the execution
	}
	e.mu.Lock()
	r := e.runs[m.ExecutionID]
	e.mu.Unlock()
	if r != nil {
		r.notifyInbox()
	}
	e.poke()
	if f := e.cfg.Published; f != nil {
		f(m.ExecutionID)
	}
	return nil
}

// Wake tells this node that another node sent execution id a message: a
// run of it here reads its inbox at once, and a task due here is claimed
// without waiting for the next poll.
func (e *Engine) Wake(id string) {
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil {
		r.notifyInbox()
	}
	e.poke()
}

// Terminate ends a running execution of project (AllProjects: of any) at
// once, without running its code, and its running children with it.
func (e *Engine) Terminate(ctx context.Context, project, id, reason string) error {
	if reason == "" {
		reason = "terminated"
	}
	now := e.now()
	ex, err := e.get(ctx, project, id)
	if err != nil {
		return err
	}
	data, _ := json.Marshal(map[string]string{"reason": reason})
	ferr, _ := json.Marshal(wire.FlowError{Type: "Terminated", Message: reason})
	c := store.FlowClose{Status: record.FlowTerminated, Error: ferr, RetainUntil: now.Add(e.retention(ex.Workflow))}
	if err := e.cfg.Store.FlowTerminate(ctx, id, record.FlowEvent{Type: EvTerminated, Data: data, Time: now}, c, now); err != nil {
		return err
	}
	e.mu.Lock()
	r := e.runs[id]
	e.mu.Unlock()
	if r != nil {
		r.abort()
	}
	children, err := e.cfg.Store.FlowList(ctx, store.FlowListParams{Project: ex.Project, ParentID: id, Status: record.FlowRunning, Limit: 1000})
	if err == nil {
		for _, c := range children {
			_ = e.Terminate(ctx, ex.Project, c.ID, "parent "+id+" terminated: "+reason)
		}
	}
	// A parent waiting for this one hears of it.
	if ex.ParentID != "" {
		_ = e.send(ctx, childMessage(ex.ParentID, ex.ParentStep, nil, &wire.FlowError{Type: "Terminated", Message: reason, Name: ex.Workflow}))
	}
	return nil
}

// Restart reopens a finished execution of project (AllProjects: of any):
// from the start (a new run with the same input) or, with fromFailure,
// where it failed: every result recorded before the failing step is kept
// and that step runs again.
func (e *Engine) Restart(ctx context.Context, project, id string, fromFailure bool) (out *record.FlowExecution, err error) {
	ex, err := e.get(ctx, project, id)
	if err != nil {
		return nil, err
	}
	now := e.now()
	p := store.FlowReopenParams{ID: id}
	if fromFailure {
		if ex.Status != record.FlowFailed && ex.Status != record.FlowRunning {
			return nil, fmt.Errorf("%w: execution %s is %s, not failed: restart it without --from-failure", ErrBadInput, id, ex.Status)
		}
		// The step whose failure failed the execution runs again; a
		// failure of the code itself (a panic, non-determinism) keeps
		// every step's result and replays with the code deployed now.
		var fe wire.FlowError
		_ = json.Unmarshal(ex.Error, &fe)
		discard, child := 0, ""
		if fe.Step > 0 {
			hist, err := e.cfg.Store.FlowHistory(ctx, id, ex.Run, 0, 0)
			if err != nil {
				return nil, err
			}
			for _, ev := range hist {
				if ev.Step != fe.Step {
					continue
				}
				switch ev.Type {
				case EvCallFailed:
					discard = fe.Step
				case EvChildStarted:
					var w waitData
					_ = json.Unmarshal(ev.Data, &w)
					child = w.ID
				case EvChildFailed:
					discard = fe.Step
				}
			}
		}
		if discard == 0 {
			child = ""
		}
		defer func() {
			// A failed child step runs again by restarting the child from
			// its own failure, once the parent is running to hear of it.
			if err == nil && child != "" {
				_, err = e.Restart(ctx, ex.Project, child, true)
				if errors.Is(err, ErrBadInput) { // canceled or terminated: from its start
					_, err = e.Restart(ctx, ex.Project, child, false)
				}
				if err != nil {
					err = fmt.Errorf("execution %s restarted, but not its failed child %s: %w", id, child, err)
				}
			}
		}()
		data, _ := json.Marshal(restartData{DiscardStep: discard})
		p.Events = []record.FlowEvent{{Type: EvRestarted, Step: discard, Data: data, Time: now}}
	} else {
		data, _ := json.Marshal(startedData{Input: ex.Input, TraceID: ex.TraceID, Parent: ex.ParentID, ParentStep: ex.ParentStep, Restarted: true})
		p.NewRun = &store.FlowNewRun{Input: ex.Input, Events: []record.FlowEvent{{Type: EvStarted, Name: ex.Workflow, Data: data, Time: now}}}
	}
	out, err = e.cfg.Store.FlowReopen(ctx, p, now)
	if err != nil {
		return nil, err
	}
	e.poke()
	return out, nil
}

// Redrive reopens a finished, unsuccessful execution of a keyed
// orchestrator (keyed.go) of project where it ended: the records under
// forget are dropped, so those effects run again, and every other record
// is kept, so what succeeded does not. The orchestrator decides which
// keys (package sfn: the effects of the states that failed). The reopen
// and the restart event are one store commit. token, kept in the event,
// lets the caller tell a repeated request from a new one.
func (e *Engine) Redrive(ctx context.Context, project, id string, forget []string, token string) (*record.FlowExecution, error) {
	ex, err := e.get(ctx, project, id)
	if err != nil {
		return nil, err
	}
	if ex.Status == record.FlowRunning || ex.Status == record.FlowCompleted {
		return nil, fmt.Errorf("%w: execution %s is %s", ErrBadInput, id, ex.Status)
	}
	now := e.now()
	data, _ := json.Marshal(restartData{Forget: forget, Token: token})
	out, err := e.cfg.Store.FlowReopen(ctx, store.FlowReopenParams{ID: id,
		Events: []record.FlowEvent{{Type: EvRestarted, Data: data, Time: now}}}, now)
	if err != nil {
		return nil, err
	}
	e.poke()
	return out, nil
}

func (e *Engine) retention(workflow string) time.Duration {
	if ref, ok := e.cfg.Workflows(workflow); ok && ref.Config.Retention > 0 {
		return ref.Config.Retention
	}
	return DefaultRetention
}

func (e *Engine) historyLimit(workflow string) int {
	if ref, ok := e.cfg.Workflows(workflow); ok && ref.Config.HistoryLimit > 0 {
		return ref.Config.HistoryLimit
	}
	return DefaultHistoryLimit
}

// launch runs a claimed task in its own goroutine, once a run slot is
// free. A task claimed while this node's previous run of the same
// execution is still winding down (it just gave the task back, and a
// signal made it due again) follows that run.
func (e *Engine) launch(t record.FlowTask, pre *preloaded) {
	e.launchRun(t, pre, false)
}

// launchNew launches the run of an execution being started, unless this
// node runs one under that id already (the start will find the id taken);
// it reports whether it did.
func (e *Engine) launchNew(t record.FlowTask, pre *preloaded) bool {
	return e.launchRun(t, pre, true)
}

func (e *Engine) launchRun(t record.FlowTask, pre *preloaded, onlyNew bool) bool {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return false
	}
	if old := e.runs[t.ExecutionID]; old != nil {
		if !onlyNew {
			old.follow = &t
		}
		e.mu.Unlock()
		return false
	}
	r := &Run{e: e, task: t, notify: make(chan struct{}, 1), pre: pre}
	if pre != nil && pre.started != nil {
		r.gate, r.started = pre.started, pre.started
	}
	e.runs[t.ExecutionID] = r
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		select {
		case e.slots <- struct{}{}:
			e.execute(r)
			<-e.slots
		case <-e.ctx.Done():
		}
		e.mu.Lock()
		delete(e.runs, t.ExecutionID)
		next := r.follow
		e.mu.Unlock()
		if next != nil {
			e.launch(*next, nil)
		}
	}()
	return true
}

func (e *Engine) claimLoop() {
	for {
		e.mu.Lock()
		free := e.cfg.MaxRuns - len(e.runs)
		e.mu.Unlock()
		if free > 0 {
			tasks, err := e.cfg.Store.FlowClaim(e.ctx, e.cfg.Node, e.now(), e.cfg.LeaseFor, min(free, 64))
			if err != nil && e.ctx.Err() == nil {
				e.cfg.Logger.Warn("flow: claim failed", "err", err)
			}
			for _, t := range tasks {
				e.launch(t, nil)
			}
			if len(tasks) == min(free, 64) {
				continue // more may be due
			}
		}
		wait := e.cfg.Poll
		if t, ok, err := e.cfg.Store.FlowNextDue(e.ctx); err == nil && ok {
			wait = min(wait, max(t.Sub(e.now()), time.Millisecond))
		}
		timer := time.NewTimer(wait)
		select {
		case <-e.ctx.Done():
			timer.Stop()
			return
		case <-e.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (e *Engine) renewLoop() {
	tick := time.NewTicker(e.cfg.LeaseFor / 3)
	defer tick.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-tick.C:
		}
		e.mu.Lock()
		held := make([]record.FlowTask, 0, len(e.runs))
		byID := make(map[string]*Run, len(e.runs))
		for id, r := range e.runs {
			if !r.leaseStored() {
				continue // its start has not committed (or created nothing)
			}
			held = append(held, record.FlowTask{ExecutionID: id, Lease: r.task.Lease})
			byID[id] = r
		}
		e.mu.Unlock()
		if len(held) == 0 {
			continue
		}
		lost, err := e.cfg.Store.FlowRenew(e.ctx, held, e.now().Add(e.cfg.LeaseFor))
		if err != nil {
			e.cfg.Logger.Warn("flow: lease renewal failed", "err", err)
			continue
		}
		for _, id := range lost {
			if r := byID[id]; r != nil {
				r.abort()
			}
		}
	}
}

func (e *Engine) sweepLoop() {
	tick := time.NewTicker(e.cfg.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-tick.C:
		}
		if n, err := e.cfg.Store.FlowSweep(e.ctx, e.now(), 1000); err != nil {
			e.cfg.Logger.Warn("flow: retention sweep failed", "err", err)
		} else if n > 0 {
			e.cfg.Logger.Info("flow: deleted finished executions past their retention", "count", n)
		}
	}
}

// errAborted ends a run whose lease is gone.
var errAborted = errors.New("flow: run aborted (lease lost or execution terminated)")

// startEvents are a new execution's first events: started, then the
// start's records.
func startEvents(p StartParams, data []byte, now time.Time) []record.FlowEvent {
	evs := make([]record.FlowEvent, 0, 1+len(p.Records))
	evs = append(evs, record.FlowEvent{Type: EvStarted, Name: p.Workflow, Data: data, Time: now})
	for _, r := range p.Records {
		evs = append(evs, record.FlowEvent{Type: EvRecorded, Name: r.Key, Data: orNull(r.Value), Time: now})
	}
	return evs
}
