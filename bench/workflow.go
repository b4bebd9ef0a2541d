package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/stratahq/strata/internal/build"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/flow/orchestrator"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// The workflow scenario runs Strata's durable execution engine in this
// process, wired as internal/server wires it: a store (a SQLite file, or a
// fresh schema of PostgreSQL), the runtime with the code host, the real
// invoker, and flow.Engine with the Wasm orchestrator. Two functions are
// deployed: the orchestrator wf (workflows built from wfSource with the Go
// SDK) and the activity noop (the event scenarios' no-op guest), so every
// step is a real function invocation, metered like any other. Only the HTTP
// front door is left out.
//
// Per store it measures throughput (clients starting workflows of three
// no-op steps, each waiting for its close before starting the next), the
// latency of a lone workflow (one at a time, start to close), and one
// workflow of many sequential steps, whose history gives the cost per step
// along the run. The peers (bench/workflow_peers.go) run the same
// three-step workflow afterwards, with the CPUs to themselves.
//
// Nothing is taken on trust: every execution must close completed with the
// output the code returns, and the noop activity must have run (answered
// 200) exactly once per step, counted by a wrapper around the invoker the
// engine starts activities with.

// Functions and workflows of the scenario.
const (
	wfFunction    = "wf"
	wfThree       = "three" // three sequential noop steps, returns 3
	wfSteps       = "steps" // n sequential noop steps, returns n
	wfThreeSteps  = 3
	wfProject     = "bench"
	wfTimeoutMS   = 10 * 60 * 1000 // a pass of the long workflow runs in one invocation
	wfConcurrency = 64             // max_concurrency of wf and noop: above the clients
	wfCurveBlocks = 10             // blocks of the many-step workflow's cost curve
	wfWarmupMin   = 64             // unmeasured workflows before the throughput run
)

// Targets of issue 5 (Strata only).
const (
	targetWfSQLite   = 1000.0
	targetWfPostgres = 600.0
	targetWfLoneP50  = 3 * time.Millisecond // SQLite
)

// Peers of the workflow scenario, for -workflow-peers.
const (
	peerDBOS     = "dbos"
	peerTemporal = "temporal"
)

var allWorkflowPeers = []string{peerDBOS, peerTemporal}

// wfSource is the orchestrator function. It is written into a temporary
// project next to noop's, so the harness ships no second Go module.
const wfSource = `// Command wf is the orchestrator of Strata's workflow benchmark: "three"
// calls the noop function three times, "steps" n times, one after another.
package main

import "github.com/stratahq/strata/sdk/go/flow"

func init() {
	flow.Workflow("three", func(ctx flow.Context, _ any) (int, error) {
		for i := 0; i < 3; i++ {
			if err := flow.Call(ctx, "noop", i, nil); err != nil {
				return i, err
			}
		}
		return 3, nil
	})
	flow.Workflow("steps", func(ctx flow.Context, n int) (int, error) {
		for i := 0; i < n; i++ {
			if err := flow.Call(ctx, "noop", i, nil); err != nil {
				return i, err
			}
		}
		return n, nil
	})
}

func main() {}
`

// workflowResult is one system's run of the three-step workflow on one
// store: throughput at Concurrency, then lone workflows one at a time.
type workflowResult struct {
	System         string  `json:"system"` // strata, dbos or temporal
	Store          string  `json:"store"`  // sqlite or postgres
	Version        string  `json:"version,omitempty"`
	Concurrency    int     `json:"concurrency"`
	Workflows      int     `json:"workflows"`
	Seconds        float64 `json:"seconds"`
	WfPerSec       float64 `json:"wf_per_sec"`
	TargetWfPerSec float64 `json:"target_wf_per_sec,omitempty"`
	Met            *bool   `json:"met,omitempty"`
	Lone           int     `json:"lone"`
	LoneP50ms      float64 `json:"lone_p50_ms"`
	LoneP99ms      float64 `json:"lone_p99_ms"`
	TargetLoneP50  float64 `json:"target_lone_p50_ms,omitempty"`
	LoneMet        *bool   `json:"lone_met,omitempty"`
	// LoneTx is the store's write transactions per lone workflow (Strata:
	// each is one synced commit), counted by a wrapper around the store the
	// engine writes through: starts, commits, claims, renewals, sends.
	LoneTx float64 `json:"lone_tx_per_wf,omitempty"`
	// LoneCPUms is this process's CPU time (user and system) per lone
	// workflow: unlike the latency, it hardly moves with other load on
	// the machine.
	LoneCPUms float64 `json:"lone_cpu_ms_per_wf,omitempty"`
	// Activities is how many times the noop activity answered 200 during
	// the measured runs (Strata: checked to be 3 per workflow).
	Activities int64  `json:"activities,omitempty"`
	Note       string `json:"note,omitempty"`
	Skipped    string `json:"skipped,omitempty"`
	Error      string `json:"error,omitempty"`
}

// workflowStepsResult is the many-step workflow on one store.
type workflowStepsResult struct {
	Store       string  `json:"store"`
	Steps       int     `json:"steps"`
	Events      int     `json:"events"`
	Seconds     float64 `json:"seconds"`
	StepsPerSec float64 `json:"steps_per_sec"`
	// BlockSize steps per point of CurveUS, the mean time per step in
	// microseconds from one call_completed event to the next, block by
	// block; Growth is the last block's mean over the first's.
	BlockSize int       `json:"block_size"`
	CurveUS   []float64 `json:"curve_us_per_step"`
	Growth    float64   `json:"last_over_first"`
	Note      string    `json:"note,omitempty"`
	Skipped   string    `json:"skipped,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// runWorkflow runs Strata on each store, each followed by DBOS on the same
// kind of database, then Temporal.
func (h *harness) runWorkflow(ctx context.Context, rep *report) {
	o := h.opts
	for _, kind := range []string{storeSQLite, storePostgres} {
		if ctx.Err() != nil {
			return
		}
		if kind == storePostgres && h.postgresURL() == "" {
			rep.addWorkflow(workflowResult{System: systemStrata, Store: kind, Skipped: h.postgresSkip})
			rep.addWorkflowSteps(workflowStepsResult{Store: kind, Skipped: h.postgresSkip})
			if h.wantPeer(peerDBOS) {
				rep.addWorkflow(workflowResult{System: peerDBOS, Store: kind, Skipped: h.postgresSkip})
			}
			continue
		}
		res, steps := h.strataWorkflow(ctx, kind)
		rep.addWorkflow(res)
		rep.addWorkflowSteps(steps)
		if h.wantPeer(peerDBOS) && ctx.Err() == nil {
			pr, err := h.runDBOSPeer(ctx, kind, h.postgresURL(), o.WorkflowClients, o.Workflows, o.WorkflowLone)
			rep.addWorkflow(fromPeer(peerDBOS, kind, pr, err))
		}
	}
	if h.wantPeer(peerTemporal) && ctx.Err() == nil {
		pr, err := h.runTemporalPeer(ctx, o.WorkflowClients, o.TemporalWorkflows, o.TemporalLone)
		rep.addWorkflow(fromPeer(peerTemporal, storeSQLite, pr, err))
	}
}

func (h *harness) wantPeer(name string) bool {
	for _, p := range h.opts.WorkflowPeers {
		if p == name {
			return true
		}
	}
	return false
}

// fromPeer turns a peer's run into a row; a peer that could not run is
// reported with its error (not a failure of the harness).
func fromPeer(peer, db string, pr workflowPeerResult, err error) workflowResult {
	r := workflowResult{System: peer, Store: db}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.Version, r.Concurrency, r.Workflows = pr.Version, pr.Concurrency, pr.Workflows
	r.Seconds, r.WfPerSec = round(pr.Seconds, 3), round(pr.WfPerSec, 1)
	r.Lone, r.LoneP50ms, r.LoneP99ms = pr.Lone, round(pr.LoneP50ms, 3), round(pr.LoneP99ms, 3)
	r.Note = pr.Note
	return r
}

// strataWorkflow measures one store: warm-up, throughput, lone workflows,
// then the many-step workflow, all on one stack.
func (h *harness) strataWorkflow(ctx context.Context, kind string) (workflowResult, workflowStepsResult) {
	o := h.opts
	res := workflowResult{System: systemStrata, Store: kind, Concurrency: o.WorkflowClients, Workflows: o.Workflows, Lone: o.WorkflowLone,
		Note: fmt.Sprintf("in process: flow.Engine defaults, Wasm orchestrator %s, %d invocations of the noop function per workflow", wfFunction, wfThreeSteps)}
	res.TargetWfPerSec = targetWfSQLite
	if kind == storePostgres {
		res.TargetWfPerSec = targetWfPostgres
	} else {
		res.TargetLoneP50 = float64(targetWfLoneP50) / float64(time.Millisecond)
	}
	steps := workflowStepsResult{Store: kind, Steps: o.WorkflowSteps}
	s, err := h.openWorkflowStack(ctx, kind)
	if err != nil {
		res.Error, steps.Error = err.Error(), err.Error()
		return res, steps
	}
	defer s.close(context.WithoutCancel(ctx))

	if err := h.workflowThroughput(ctx, s, &res); err != nil {
		res.Error = err.Error()
	}
	if ctx.Err() == nil {
		h.workflowSteps(ctx, s, &steps)
	} else {
		steps.Error = context.Cause(ctx).Error()
	}
	return res, steps
}

// workflowThroughput fills the throughput and lone figures of res.
func (h *harness) workflowThroughput(ctx context.Context, s *workflowStack, res *workflowResult) error {
	o := h.opts
	warm := max(wfWarmupMin, o.Workflows/10)
	h.log.Info("workflow warm-up", "store", s.name, "workflows", warm)
	if _, err := s.many(ctx, "warm", warm, o.WorkflowClients); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	before := s.calls.ok.Load()
	took, err := s.many(ctx, "tp", o.Workflows, o.WorkflowClients)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	if err := s.verify(ctx, "tp", o.Workflows, wfThreeSteps, before); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	res.Seconds, res.WfPerSec = round(took.Seconds(), 3), round(float64(o.Workflows)/took.Seconds(), 1)
	h.log.Info("workflow throughput", "store", s.name, "wf_per_sec", int(res.WfPerSec))

	before = s.calls.ok.Load()
	txBefore, cpuBefore := s.tx.n.Load(), processCPU()
	samples := make([]time.Duration, 0, o.WorkflowLone)
	for i := range o.WorkflowLone {
		d, err := s.run(ctx, wfThree, "lone-"+strconv.Itoa(i), nil)
		if err != nil {
			return fmt.Errorf("lone workflow %d: %w", i, err)
		}
		samples = append(samples, d)
	}
	if err := s.verify(ctx, "lone", o.WorkflowLone, wfThreeSteps, before); err != nil {
		return fmt.Errorf("lone: %w", err)
	}
	res.LoneTx = round(float64(s.tx.n.Load()-txBefore)/float64(o.WorkflowLone), 2)
	res.LoneCPUms = millis((processCPU() - cpuBefore) / time.Duration(o.WorkflowLone))
	sum := summarize(samples)
	res.LoneP50ms, res.LoneP99ms = millis(sum.p50), millis(sum.p99)
	res.Activities = int64(wfThreeSteps) * int64(o.Workflows+o.WorkflowLone)
	h.log.Info("workflow lone", "store", s.name, "p50_ms", res.LoneP50ms, "p99_ms", res.LoneP99ms, "tx_per_wf", res.LoneTx,
		"cpu_ms_per_wf", res.LoneCPUms)
	return nil
}

// workflowSteps runs the many-step workflow and reads its cost curve from
// the history.
func (h *harness) workflowSteps(ctx context.Context, s *workflowStack, res *workflowStepsResult) {
	n := res.Steps
	res.Note = "one workflow of sequential noop calls; curve: mean time per step between call_completed events, per block"
	h.log.Info("workflow steps", "store", s.name, "steps", n)
	before := s.calls.ok.Load()
	id := "steps-" + strconv.Itoa(n)
	took, err := s.run(ctx, wfSteps, id, []byte(strconv.Itoa(n)))
	if err == nil {
		err = s.verifyOne(ctx, id, strconv.Itoa(n))
	}
	if err == nil {
		if got := s.calls.ok.Load() - before; got != int64(n) {
			err = fmt.Errorf("the noop activity ran %d times for %d steps%s", got, n, s.calls.repeated())
		}
	}
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Seconds, res.StepsPerSec = round(took.Seconds(), 3), round(float64(n)/took.Seconds(), 1)
	hist, err := s.st.FlowHistory(ctx, id, 1, 0, 0)
	if err != nil {
		res.Error = err.Error()
		return
	}
	res.Events = len(hist)
	res.BlockSize, res.CurveUS, res.Growth, err = stepCurve(hist, n, wfCurveBlocks)
	if err != nil {
		res.Error = err.Error()
		return
	}
	h.log.Info("workflow steps", "store", s.name, "steps_per_sec", int(res.StepsPerSec), "last_over_first", res.Growth)
}

// stepCurve splits the steps of a history into blocks and returns the
// mean time per step of each block, in microseconds: from the completion
// of the block's previous step (the start event for the first block) to
// the completion of its last. growth is the last block over the first.
func stepCurve(hist []record.FlowEvent, steps, blocks int) (size int, curve []float64, growth float64, err error) {
	if len(hist) == 0 || hist[0].Type != flow.EvStarted {
		return 0, nil, 0, errors.New("history does not begin with a started event")
	}
	times := []time.Time{hist[0].Time} // times[k]: step k completed
	for _, ev := range hist {
		if ev.Type == flow.EvCallCompleted {
			if ev.Step != len(times) {
				return 0, nil, 0, fmt.Errorf("call_completed of step %d after %d steps", ev.Step, len(times)-1)
			}
			times = append(times, ev.Time)
		}
	}
	if got := len(times) - 1; got != steps {
		return 0, nil, 0, fmt.Errorf("history holds %d completed calls, want %d", got, steps)
	}
	size = max(1, steps/blocks)
	for from := 0; from+size <= steps; from += size {
		d := times[from+size].Sub(times[from])
		curve = append(curve, round(float64(d)/float64(time.Microsecond)/float64(size), 2))
	}
	if first := curve[0]; first > 0 {
		growth = round(curve[len(curve)-1]/first, 3)
	}
	return size, curve, growth, nil
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func millis(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

// workflowStack is Strata's workflow engine on one store, in this process.
type workflowStack struct {
	name  string
	st    store.Store
	rt    *wasm.Runtime
	reg   *registry.Registry
	inv   *invoke.Invoker
	eng   *flow.Engine
	calls *countingInvoker
	tx    *countingFlow
	drop  func(ctx context.Context) error

	mu      sync.Mutex
	waiting map[string]chan string // execution id → its close, registered before Start
}

// countingInvoker counts the invocations of one function that answered
// 200, between the engine and the invoker, and remembers each step that
// ran more than once (execution/step/attempt), so a count that does not
// add up says which step it was.
type countingInvoker struct {
	flow.Invoker
	function string
	ok       atomic.Int64

	mu    sync.Mutex
	seen  map[string]bool
	twice []string
}

func (c *countingInvoker) Invoke(ctx context.Context, r invoke.Request) (*invoke.Result, error) {
	res, err := c.Invoker.Invoke(ctx, r)
	if r.Function == c.function && err == nil && res != nil && res.Response != nil && res.Response.Status == 200 {
		c.ok.Add(1)
		var key []string
		for _, h := range r.Wire.Headers {
			switch h.Name {
			case wire.FlowExecutionHeader, wire.FlowStepHeader, wire.FlowAttemptHeader:
				key = append(key, strings.Join(h.Values, ","))
			}
		}
		k := strings.Join(key, "/")
		c.mu.Lock()
		if c.seen[k] {
			c.twice = append(c.twice, k)
		}
		c.seen[k] = true
		c.mu.Unlock()
	}
	return res, err
}

// countingFlow counts the write transactions the engine makes: each call
// of these methods is one transaction (a batch of starts or commits
// shares one).
type countingFlow struct {
	store.Flow
	n atomic.Int64
}

func (c *countingFlow) FlowStartBatch(ctx context.Context, ps []store.FlowStartParams, now time.Time) ([]store.FlowStarted, error) {
	c.n.Add(1)
	return c.Flow.FlowStartBatch(ctx, ps, now)
}

func (c *countingFlow) FlowCommitBatch(ctx context.Context, cs []store.FlowCommit, now time.Time) []error {
	c.n.Add(1)
	return c.Flow.FlowCommitBatch(ctx, cs, now)
}

func (c *countingFlow) FlowClaim(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]record.FlowTask, error) {
	c.n.Add(1)
	return c.Flow.FlowClaim(ctx, owner, now, leaseFor, limit)
}

func (c *countingFlow) FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error) {
	c.n.Add(1)
	return c.Flow.FlowRenew(ctx, held, until)
}

func (c *countingFlow) FlowSend(ctx context.Context, m record.FlowInbox, now time.Time) (int64, error) {
	c.n.Add(1)
	return c.Flow.FlowSend(ctx, m, now)
}

// repeated describes the steps that ran more than once, for errors.
func (c *countingInvoker) repeated() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.twice) == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d steps ran again with the same execution/step/attempt, e.g. %s)", len(c.twice), strings.Join(c.twice[:min(5, len(c.twice))], ", "))
}

// wfGuest returns the orchestrator function compiled as strata build
// compiles it, built once per run.
func (h *harness) wfGuest(ctx context.Context) ([]byte, error) {
	if h.wf != nil || h.wfErr != nil {
		return h.wf, h.wfErr
	}
	h.wf, h.wfErr = func() ([]byte, error) {
		proj := filepath.Join(h.work, "wf-build")
		if err := os.MkdirAll(filepath.Join(proj, wfFunction), 0o755); err != nil {
			return nil, err
		}
		files := map[string]string{
			"go.mod":                             "module benchwf\n\ngo 1.24\n",
			filepath.Join(wfFunction, "main.go"): wfSource,
		}
		for name, body := range files {
			if err := os.WriteFile(filepath.Join(proj, name), []byte(body), 0o644); err != nil {
				return nil, err
			}
		}
		h.log.Info("building the workflow guest", "dir", proj)
		res, err := build.Go(ctx, build.Params{ProjectDir: proj, Package: "./" + wfFunction, Out: "wf.wasm", Name: wfFunction})
		if err != nil {
			return nil, fmt.Errorf("build the workflow guest: %w", err)
		}
		return os.ReadFile(res.Path)
	}()
	return h.wf, h.wfErr
}

// openWorkflowStack opens a store of the given kind, deploys wf and noop,
// loads them and starts the engine.
func (h *harness) openWorkflowStack(ctx context.Context, kind string) (_ *workflowStack, err error) {
	noop, err := h.noopGuest(ctx)
	if err != nil {
		return nil, err
	}
	wf, err := h.wfGuest(ctx)
	if err != nil {
		return nil, err
	}
	s := &workflowStack{name: kind, waiting: map[string]chan string{}, drop: func(context.Context) error { return nil }}
	defer func() {
		if err != nil {
			s.close(context.WithoutCancel(ctx))
		}
	}()
	if s.st, s.drop, err = h.openStore(ctx, kind, "workflow"); err != nil {
		return nil, err
	}
	workflows, err := deployWorkflows(ctx, s.st, noop, wf, h.opts.WorkflowSteps)
	if err != nil {
		return nil, err
	}
	// The same wiring as internal/server: the code host answers the
	// orchestrator's flow calls and needs the engine, which needs the
	// invoker, which needs the wasm.
	host := &orchestrator.Host{ProjectOf: func(string) string { return wfProject }}
	if s.rt, err = wasm.New(ctx, wasm.Config{CacheDir: filepath.Join(h.work, "wasm-cache"), Flow: host}); err != nil {
		return nil, fmt.Errorf("open runtime: %w", err)
	}
	s.reg = registry.New(registry.Config{Store: s.st, Runtime: s.rt, Logger: h.quietLog()})
	s.inv = invoke.New(invoke.Config{Registry: s.reg, Store: s.st, Logger: h.quietLog()})
	if err := s.reg.Sync(ctx); err != nil {
		return nil, fmt.Errorf("load the workflow functions: %w", err)
	}
	s.calls = &countingInvoker{Invoker: s.inv, function: noopFunction, seen: map[string]bool{}}
	s.tx = &countingFlow{Flow: s.st}
	s.eng = flow.New(flow.Config{
		Store: s.tx, Invoker: s.calls, Orchestrator: &orchestrator.Orchestrator{Invoker: s.inv},
		Workflows: func(name string) (flow.WorkflowRef, bool) {
			for _, w := range workflows {
				if w.Name == name {
					return flow.WorkflowRef{Function: wfFunction, Project: wfProject, Config: w}, true
				}
			}
			return flow.WorkflowRef{}, false
		},
		ProjectOf: func(string) string { return wfProject },
		OnClose:   s.closed, Logger: h.quietLog(),
	})
	host.Engine = s.eng
	s.eng.Run()
	return s, nil
}

// deployWorkflows stores both modules and deploys them as a deploy of this
// manifest would (history_limit fits the many-step workflow):
//
//	workflows: { three: { function: wf }, steps: { function: wf, history_limit: … } }
//	functions:
//	  wf:   { max_concurrency: 64, timeout: 10m }
//	  noop: { max_concurrency: 64 }
func deployWorkflows(ctx context.Context, st store.Store, noop, wf []byte, steps int) ([]record.WorkflowConfig, error) {
	var versions []store.NewVersionParams
	workflows := []record.WorkflowConfig{
		{Name: wfThree},
		// Two events per step, plus the start and the close.
		{Name: wfSteps, HistoryLimit: max(flow.DefaultHistoryLimit, 2*steps+16)},
	}
	for _, m := range []struct {
		fn  string
		bin []byte
		cfg record.FunctionConfig
	}{
		{noopFunction, noop, record.FunctionConfig{Kind: "reactor", MemoryMB: 128, TimeoutMS: 10_000, MaxConcurrency: wfConcurrency}},
		{wfFunction, wf, record.FunctionConfig{Kind: "reactor", MemoryMB: 128, TimeoutMS: wfTimeoutMS, MaxConcurrency: wfConcurrency, Workflows: workflows}},
	} {
		sum := sha256.Sum256(m.bin)
		sha := hex.EncodeToString(sum[:])
		if err := st.BlobPut(ctx, sha, m.bin); err != nil {
			return nil, fmt.Errorf("store the %s module: %w", m.fn, err)
		}
		versions = append(versions, store.NewVersionParams{Function: m.fn, ModuleSHA256: sha, Config: m.cfg})
	}
	if _, err := st.DeploymentApply(ctx, store.DeploymentApplyParams{Project: wfProject, NewVersions: versions, Routes: []record.Route{}}); err != nil {
		return nil, fmt.Errorf("deploy the workflow functions: %w", err)
	}
	return workflows, nil
}

// closed is the engine's OnClose: it hands the status to whoever waits.
func (s *workflowStack) closed(id, status string) {
	s.mu.Lock()
	ch := s.waiting[id]
	s.mu.Unlock()
	if ch != nil {
		select {
		case ch <- status:
		default:
		}
	}
}

// workflowWait bounds one execution: generous, so only a stuck engine or
// a lost close hits it.
const workflowWait = 15 * time.Minute

// run starts one execution and waits for its close, returning the time
// from Start to the close.
func (s *workflowStack) run(ctx context.Context, workflow, id string, input []byte) (time.Duration, error) {
	ch := make(chan string, 1)
	s.mu.Lock()
	s.waiting[id] = ch
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiting, id)
		s.mu.Unlock()
	}()
	start := time.Now()
	_, created, err := s.eng.Start(ctx, flow.StartParams{Workflow: workflow, ID: id, Input: input})
	if err != nil {
		return 0, err
	}
	if !created {
		return 0, fmt.Errorf("execution %s already existed", id)
	}
	t := time.NewTimer(workflowWait)
	defer t.Stop()
	select {
	case status := <-ch:
		took := time.Since(start)
		if status != record.FlowCompleted {
			return took, fmt.Errorf("execution %s closed %s%s", id, status, s.closeError(ctx, id))
		}
		return took, nil
	case <-t.C:
		return 0, fmt.Errorf("execution %s not closed after %v", id, workflowWait)
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
}

// closeError describes why an execution did not complete, for errors.
func (s *workflowStack) closeError(ctx context.Context, id string) string {
	ex, err := s.st.FlowGet(ctx, id)
	if err != nil || len(ex.Error) == 0 {
		return ""
	}
	return ": " + string(ex.Error)
}

// many runs n executions of "three" named prefix-0 … prefix-(n-1) by
// clients goroutines, each starting the next when its last one closed,
// and returns the wall time from the first start to the last close.
func (s *workflowStack) many(ctx context.Context, prefix string, n, clients int) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(clients, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if _, err := s.run(ctx, wfThree, prefix+"-"+strconv.Itoa(i), nil); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return took, err
	}
	return took, nil
}

// verify checks that executions prefix-0 … prefix-(n-1) completed with
// output steps and that the noop activity answered exactly steps times
// per execution since the counter read before.
func (s *workflowStack) verify(ctx context.Context, prefix string, n, steps int, before int64) error {
	if got, want := s.calls.ok.Load()-before, int64(n*steps); got != want {
		return fmt.Errorf("the noop activity ran %d times for %d workflows of %d steps, want %d%s", got, n, steps, want, s.calls.repeated())
	}
	for i := range n {
		if err := s.verifyOne(ctx, prefix+"-"+strconv.Itoa(i), strconv.Itoa(steps)); err != nil {
			return err
		}
	}
	return nil
}

// verifyOne checks that an execution completed with the given output.
func (s *workflowStack) verifyOne(ctx context.Context, id, output string) error {
	ex, err := s.st.FlowGet(ctx, id)
	if err != nil {
		return err
	}
	if ex.Status != record.FlowCompleted || strings.TrimSpace(string(ex.Output)) != output {
		return fmt.Errorf("execution %s: status %s, output %s, error %s; want completed with %s", id, ex.Status, ex.Output, ex.Error, output)
	}
	return nil
}

// close stops the engine, the invoker and the runtime, closes the store and
// drops its schema.
func (s *workflowStack) close(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if s.eng != nil {
		s.eng.Close()
	}
	if s.reg != nil {
		_ = s.reg.Close(ctx)
	}
	if s.inv != nil {
		_ = s.inv.Close(ctx)
	}
	if s.rt != nil {
		_ = s.rt.Close(ctx)
	}
	if s.st != nil {
		_ = s.st.Close()
	}
	_ = s.drop(ctx)
}
