package invoke

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/internal/lambda"
	"github.com/stratahq/strata/internal/meter"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/registry"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Observer sees every finished invocation with its function's project:
// what ran (its usage record) and what was refused for capacity (Outcome
// record.OutcomeLimited, no duration). It is called on the invocation's
// path, so it must neither block nor allocate once warm; u is passed by
// value so that handing it over allocates nothing.
type Observer interface {
	ObserveInvocation(project string, u record.Usage)
}

// Config configures an Invoker.
type Config struct {
	// Registry is where invocations find the version that serves a
	// function. Build it with this Config's PoolLimits, so the pools and
	// admission agree on the limits.
	Registry *registry.Registry
	// Store is where the meter writes usage records and log lines.
	Store  meter.Store
	Clock  clock.Clock
	Logger *slog.Logger
	// Bindings, when set, is told when an invocation ends so it can roll
	// back a transaction the guest left open.
	Bindings interface{ EndInvocation(invocationID string) }
	// MaxConcurrency caps invocations running at once across all functions
	// on this node (0: no platform-wide cap; each function still has its
	// own). Over it, invocations fail at once with pool.ErrAtCapacity: a
	// synchronous caller gets 429, an event stays durably queued.
	MaxConcurrency int
	// ProjectConcurrency caps the invocations one project may run at once
	// on this node, so one project cannot take the whole node: the rest of
	// MaxConcurrency stays free for the others. 0 means
	// DefaultProjectConcurrency(MaxConcurrency); < 0 means no per-project
	// cap. A function's max_concurrency above it is clamped to it (with a
	// warning in the platform log).
	ProjectConcurrency int
	// MemoryBudgetMB is the memory every live instance on this node holds
	// together, each its function's memory limit (0: no budget). A new
	// instance that does not fit is refused with pool.ErrMemoryBudget
	// (429) after idle instances have made what room they can. One
	// project may hold the same fraction of it as ProjectConcurrency is of
	// MaxConcurrency. The pools enforce it, and the clamp above, with the
	// limits PoolLimits derives from this Config.
	MemoryBudgetMB int64
	LogTap         func(record.LogLine) // optional: sees every guest log line
	// Tracer records a span per invocation (named for the function, a
	// child of the span in the caller's context or of the request's
	// traceparent); nil records none, and the invocation's trace context
	// is then minted by internal/trace alone.
	Tracer *trace.Tracer
	// Observer, when set, sees every finished invocation, refused ones
	// included (the metrics). It runs on the invocation's path.
	Observer Observer
}

// projectMemoryMB is the part of the memory budget one project may hold:
// the same fraction of it as ProjectConcurrency is of MaxConcurrency (80%
// by default), so one project cannot take the node's memory either.
func projectMemoryMB(cfg Config) int64 {
	switch {
	case cfg.MemoryBudgetMB <= 0 || cfg.ProjectConcurrency < 0:
		return cfg.MemoryBudgetMB
	case cfg.MaxConcurrency > 0 && cfg.ProjectConcurrency > 0:
		return cfg.MemoryBudgetMB * int64(cfg.ProjectConcurrency) / int64(cfg.MaxConcurrency)
	}
	return cfg.MemoryBudgetMB * 4 / 5
}

// DefaultProjectConcurrency is the per-project cap derived from a node
// cap: 80% of it, so a fifth of the node (at least one slot) stays free
// for other projects while one project is saturated. With a node cap of 1
// there is nothing to share; 0 (no node cap) means no per-project cap.
func DefaultProjectConcurrency(node int) int {
	if node <= 1 {
		return node
	}
	return node - max(node/5, 1)
}

// PoolLimits are the limits the registry's pools must share with this
// invoker's admission: a pool never holds more instances than the
// project's share of the node, and every pool draws on the node's memory
// budget, of which one project holds the same share.
func (cfg Config) PoolLimits() registry.PoolLimits {
	cfg = cfg.withDefaults()
	return registry.PoolLimits{
		MaxInstances: max(cfg.ProjectConcurrency, 0),
		Budget:       pool.NewBudget(cfg.MemoryBudgetMB, projectMemoryMB(cfg)),
	}
}

func (cfg Config) withDefaults() Config {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ProjectConcurrency == 0 {
		cfg.ProjectConcurrency = DefaultProjectConcurrency(cfg.MaxConcurrency)
	}
	if cfg.MaxConcurrency > 0 && cfg.ProjectConcurrency > cfg.MaxConcurrency {
		cfg.ProjectConcurrency = cfg.MaxConcurrency
	}
	return cfg
}

// Invoker runs invocations against the active version of each function.
type Invoker struct {
	cfg     Config
	meter   *meter.Meter
	running atomic.Int64 // invocations in progress: MaxConcurrency, Running
	// projects counts each project's invocations in progress (project →
	// *atomic.Int64), for ProjectConcurrency; entries are never removed (a
	// counter per project name ever served, a few words each).
	projects sync.Map
}

// New returns an invoker of the versions in cfg.Registry.
func New(cfg Config) *Invoker {
	cfg = cfg.withDefaults()
	return &Invoker{cfg: cfg, meter: meter.New(cfg.Store, cfg.Logger, cfg.LogTap)}
}

// Request is one invocation to run.
type Request struct {
	Function    string
	Trigger     string // "http", "invoke"
	TraceParent string // incoming W3C traceparent, may be empty
	Wire        *wire.Request
	// Workflow is the workflow work the invocation does for the flow
	// engine (an orchestrator pass, an activity attempt), which its guest's
	// flow host calls reach; nil for any other invocation.
	Workflow host.Workflow
	// Object is the durable object the invocation runs an event of, which
	// its guest's storage, alarm and WebSocket host calls act on; nil for
	// any other invocation.
	Object host.Object
	// Pinned, when set, runs the invocation on this slot's instance of
	// the function's active version instead of any pooled one (durable
	// objects); pool.ErrStalePin when the slot is of another version.
	// BeforePinned, when set, runs once the slot's instance is known
	// (its generation), just before the guest is called.
	Pinned       *pool.Pinned
	BeforePinned func(generation uint64)
	// CPUMS, when not zero, is the invocation's CPU-time limit in place of
	// its function's cpu_ms (an object class's own).
	CPUMS int64
	// AfterPinned, when set, runs as soon as the guest has answered (or
	// failed), still on the slot, before the invocation is metered: the
	// objects engine opens the object's input gate there.
	AfterPinned func(resp *wire.Response, err error)
	// Shaper, when set, reshapes the invocation for a version that takes
	// AWS Lambda's event shapes (events: lambda): the version that runs
	// decides, so a deploy that changes the setting applies from the next
	// invocation on. Nil, or a version that takes CloudEvents, runs Wire
	// as it is.
	Shaper Shaper
	// Project, when set, is the only project whose function may run: a
	// function of another project is refused with ErrNoFunction, checked
	// against the version the registry hands out, so a caller acting for
	// one project (the Lambda Invoke API) cannot reach another's function
	// even if a name changes hands between its own check and the run.
	Project string
	// Version, when not zero, is the only version that may run: another
	// active version is refused with ErrVersionNotActive (the Lambda
	// Invoke API's Qualifier).
	Version int
	// Logs, when set, sees each log line of this invocation as it is
	// recorded (the guest's and the platform's), on the invoking
	// goroutine (the Lambda Invoke API's log tail).
	Logs func(record.LogLine)
}

// Shaper gives a function that takes Lambda event shapes the event its
// trigger delivers on AWS, and turns the function's result into the answer
// its caller expects. The gateway and the events engine implement it per
// trigger.
type Shaper interface {
	// LambdaRequest returns the request that carries req's event.
	LambdaRequest(inv lambda.Invocation, req *wire.Request) (*wire.Request, error)
	// LambdaResponse returns the caller's answer from the guest's (a
	// 2xx). An error wrapping lambda.ErrBadResponse fails the invocation,
	// in the function's logs, and the gateway answers 502.
	LambdaResponse(resp *wire.Response) (*wire.Response, error)
}

// Result is a finished invocation.
type Result struct {
	Response     *wire.Response
	InvocationID string
	Version      int
	Trace        trace.Context
	TraceHeader  string // Trace as a traceparent header value (Trace.Header())
	Cold         bool
	Duration     time.Duration
	// Shaped is true when the request's Shaper reshaped the invocation
	// (the version takes Lambda event shapes).
	Shaped bool
}

// invocation is what one invocation needs on the host, allocated in one
// piece: its result, its host-call environment, its log writers and the
// text of its id and traceparent (which the result's strings alias).
type invocation struct {
	res             Result
	call            host.Call
	stdout, stderr  lineWriter
	budget, dropped int
	id              [36]byte
	traceparent     [trace.HeaderLen]byte
	parent          [16]byte
	span            oteltrace.Span // nil when tracing is off
	spanDone        bool           // run set span's attributes
}

// newInvocation starts an invocation: its id, and its trace context.
// With a tracer, the context is its span's, so the span id on its log
// lines, its usage record and the traceparent returned to the caller is
// the span's (see RATIONALE.md); ctx then carries the span to the pool
// (cold start) and the host calls. Without one, it is minted as before,
// with no allocation beyond the invocation.
func (iv *Invoker) newInvocation(ctx context.Context, r *Request) (context.Context, *invocation) {
	inv := &invocation{}
	inv.res.InvocationID = newInvocationID(&inv.id)
	t := iv.cfg.Tracer
	if t == nil {
		inv.res.Trace, inv.res.TraceHeader = trace.NewIn(&inv.traceparent, r.TraceParent)
		return ctx, inv
	}
	ctx = trace.WithParentHeader(ctx, r.TraceParent)
	parent := oteltrace.SpanContextFromContext(ctx)
	// The attributes are set once, when the invocation ends (spanAttrs):
	// one allocation for all of them rather than a slice grown twice.
	ctx, inv.span = t.Start(ctx, r.Function)
	inv.res.Trace, inv.res.TraceHeader = trace.FromSpan(&inv.traceparent, &inv.parent, inv.span.SpanContext(), parent)
	return ctx, inv
}

// Invoke runs one invocation on the function's active version. The error,
// when not nil, is one of ErrNoFunction, ErrLoading, pool.ErrAtCapacity,
// wasm.ErrTimeout, wasm.ErrResponseTooLarge or a *wasm.TrapError
// (wrapped), which callers tell apart with the predicates of errors.go;
// Result is returned in every case where an invocation id was assigned,
// so callers can report it.
func (iv *Invoker) Invoke(ctx context.Context, r Request) (*Result, error) {
	ctx, inv := iv.newInvocation(ctx, &r)
	if inv.span != nil {
		defer func() { inv.span.End() }()
	}
	res, err := iv.invoke(ctx, r, inv)
	if inv.span != nil {
		if !inv.spanDone && inv.span.IsRecording() {
			// Refused before it ran (no such function, still loading).
			inv.span.SetAttributes(trace.KeyFunction.String(r.Function),
				trace.KeyInvocationID.String(res.InvocationID), trace.KeyTrigger.String(r.Trigger))
		}
		trace.FailErr(inv.span, err)
	}
	return res, err
}

func (iv *Invoker) invoke(ctx context.Context, r Request, inv *invocation) (*Result, error) {
	res := &inv.res
	for attempt := 0; ; attempt++ {
		d, loadingVersion, loading := iv.cfg.Registry.Lookup(r.Function)
		if d == nil && loading {
			return res, fmt.Errorf("function %s@%d is still loading on this node (compiling or initialising after a start); retry shortly: %w",
				r.Function, loadingVersion, ErrLoading)
		}
		if d == nil || r.Project != "" && d.Project != r.Project {
			return res, fmt.Errorf("%w: %s", ErrNoFunction, r.Function)
		}
		if r.Version != 0 && d.Version.Number != r.Version {
			return res, fmt.Errorf("%w: %s@%d is asked for, %s@%d is active", ErrVersionNotActive, r.Function, r.Version, r.Function, d.Version.Number)
		}
		err := iv.admitProject(ctx, d, r, inv)
		// A pool closed between lookup and use belongs to a version that was
		// just replaced: run on the new one instead of failing the request.
		if errors.Is(err, pool.ErrClosed) && attempt < 3 {
			continue
		}
		return res, err
	}
}

// admitProject runs r on d within its project's share of the node: over
// ProjectConcurrency in flight, it fails at once with pool.ErrAtCapacity
// (429), leaving the rest of the node to other projects. The project's share
// is taken before a node slot: a call its project's share refuses then never
// holds, even for an instant, a slot of the node that another project's call
// could find taken.
func (iv *Invoker) admitProject(ctx context.Context, d *registry.Deployed, r Request, inv *invocation) error {
	if lim := iv.cfg.ProjectConcurrency; lim > 0 {
		running := iv.projectRunning(d.Project)
		if running.Add(1) > int64(lim) {
			running.Add(-1)
			iv.observeRefused(d, r)
			return fmt.Errorf("project %s: its share of this node, %d invocations at once, is in use "+
				"(the rest of the node is kept for other projects; see --project-concurrency): %w",
				d.Project, lim, pool.ErrAtCapacity)
		}
		defer running.Add(-1)
	}
	// Counted with or without a cap: Running reports it (node load,
	// draining).
	n := iv.running.Add(1)
	if limit := iv.cfg.MaxConcurrency; limit > 0 && n > int64(limit) {
		iv.running.Add(-1)
		iv.observeRefused(d, r)
		return fmt.Errorf("platform concurrency limit of %d reached: %w", limit, pool.ErrAtCapacity)
	}
	defer iv.running.Add(-1)
	return iv.run(ctx, d, r, inv)
}

// observeRefused tells the observer about an invocation refused before it
// reached a pool (no usage record is written for it).
func (iv *Invoker) observeRefused(d *registry.Deployed, r Request) {
	if o := iv.cfg.Observer; o != nil {
		o.ObserveInvocation(d.Project, record.Usage{Function: d.Version.Function, Trigger: r.Trigger, Outcome: record.OutcomeLimited})
	}
}

// projectRunning is the counter of project's invocations in progress.
func (iv *Invoker) projectRunning(project string) *atomic.Int64 {
	if c, ok := iv.projects.Load(project); ok {
		return c.(*atomic.Int64)
	}
	c, _ := iv.projects.LoadOrStore(project, new(atomic.Int64))
	return c.(*atomic.Int64)
}

func (iv *Invoker) run(ctx context.Context, d *registry.Deployed, r Request, inv *invocation) error {
	v := d.Version
	res := &inv.res
	timeout := time.Duration(v.Config.TimeoutMS) * time.Millisecond
	start := iv.cfg.Clock.Now()
	// The deadline travels with the invocation (wasm.Env.Deadline) rather
	// than in a derived context: the instance enforces it with a timer of
	// its own, so a warm invocation allocates no timer and no context.
	deadline := start.Add(timeout)

	req := r.Wire
	var shape lambda.Invocation
	if r.Shaper != nil && v.Config.Events == record.EventsLambda {
		shape = lambda.Invocation{Account: d.Project, Function: v.Function, RequestID: res.InvocationID, Time: start}
		shaped, err := r.Shaper.LambdaRequest(shape, req)
		if err != nil {
			return fmt.Errorf("%s@%d: build its Lambda event: %w", v.Function, v.Number, err)
		}
		req, res.Shaped = shaped, true
	}
	req.InvocationID = res.InvocationID
	req.TraceParent = res.TraceHeader
	req.DeadlineMS = deadline.UnixMilli()
	// Host calls (SQL, KV, fetch, secrets, events, workflows) act for
	// this invocation: its function and project, bindings, deadline,
	// trace, and the workflow work it does. The runtime hands call to
	// every host-call handler.
	call := &inv.call
	*call = host.Call{
		Function: v.Function, Project: d.Project, Version: v.Number, InvocationID: res.InvocationID, Config: v.Config,
		Deadline: deadline, TraceParent: req.TraceParent, Workflow: r.Workflow, Object: r.Object,
	}
	if len(v.Config.Bindings) > 0 && iv.cfg.Bindings != nil {
		// A transaction the guest left open ends with the invocation.
		defer iv.cfg.Bindings.EndInvocation(res.InvocationID)
	}

	base := record.LogLine{InvocationID: res.InvocationID, Function: v.Function, Version: v.Number, TraceID: res.Trace.TraceID, SpanID: res.Trace.SpanID}
	inv.budget = maxLinesPerInvoke
	inv.stdout = lineWriter{meter: iv.meter, base: base, stream: "stdout", budget: &inv.budget, dropped: &inv.dropped, tap: r.Logs}
	inv.stderr = lineWriter{meter: iv.meter, base: base, stream: "stderr", budget: &inv.budget, dropped: &inv.dropped, tap: r.Logs}
	stdout, stderr := &inv.stdout, &inv.stderr

	cpuMS := v.Config.CPUMS
	if r.CPUMS != 0 {
		cpuMS = r.CPUMS
	}
	env := wasm.Env{Stdout: stdout, Stderr: stderr, Call: call, Deadline: deadline, CPULimit: time.Duration(cpuMS) * time.Millisecond}
	var resp *wire.Response
	var cold bool
	var err error
	if r.Pinned != nil {
		resp, cold, err = d.Pool.InvokePinned(ctx, r.Pinned, req, env, r.BeforePinned, r.AfterPinned)
	} else {
		resp, cold, err = d.Pool.Invoke(ctx, req, env)
	}
	if errors.Is(err, pool.ErrClosed) || errors.Is(err, pool.ErrStalePin) {
		return err
	}
	dur := iv.cfg.Clock.Now().Sub(start)
	if err == nil && res.Shaped {
		resp, err = shapeResponse(r.Shaper, resp)
	}
	stdout.flush()
	stderr.flush()
	if dropped := inv.dropped; dropped > 0 {
		iv.platformLog(base, record.LevelWarn, fmt.Sprintf(droppedLinesFormat, dropped, maxLinesPerInvoke), r.Logs)
	}

	res.Response, res.Version, res.Cold, res.Duration = resp, v.Number, cold, dur
	u := record.Usage{
		InvocationID: res.InvocationID, Function: v.Function, Version: v.Number,
		Trigger: r.Trigger, TraceID: res.Trace.TraceID, Start: start.UTC(), Duration: dur,
		BilledMS: meter.BilledMS(dur - call.Idle()), MemoryMB: v.Config.MemoryMB, Cold: cold, Outcome: record.OutcomeOK,
	}
	switch {
	case err == nil:
		u.Status = resp.Status
	case errors.Is(err, pool.ErrAtCapacity):
		u.Outcome, u.BilledMS, u.Duration = record.OutcomeLimited, 0, 0
	case errors.Is(err, context.Canceled):
		// The caller hung up (a client closing its connection); the guest
		// was stopped with it. Not the function's failure.
		u.Outcome = record.OutcomeCanceled
		err = fmt.Errorf("%s@%d: caller went away: %w", v.Function, v.Number, err)
	case errors.Is(err, wasm.ErrCPULimit):
		// Counted as an error (the function's own doing), told apart in
		// the outcome; the instance was discarded, as after a timeout.
		u.Outcome = record.OutcomeCPULimit
		err = &wasm.CPULimitError{Module: fmt.Sprintf("%s@%d", v.Function, v.Number), Limit: time.Duration(cpuMS) * time.Millisecond}
	case errors.Is(err, wasm.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		u.Outcome = record.OutcomeTimeout
		err = fmt.Errorf("%s@%d timed out after %s: %w", v.Function, v.Number, timeout, wasm.ErrTimeout)
	default:
		u.Outcome = record.OutcomeError
		err = fmt.Errorf("%s@%d: %w", v.Function, v.Number, err)
	}
	if err != nil {
		u.Error = err.Error()
		if u.Outcome != record.OutcomeLimited && u.Outcome != record.OutcomeCanceled {
			// The error goes to the function's logs, where its owner looks,
			// not only into the caller's response.
			iv.platformLog(base, record.LevelError, "invocation failed: "+err.Error(), r.Logs)
		}
	}
	iv.meter.RecordUsage(u)
	if inv.span != nil && inv.span.IsRecording() {
		inv.spanDone = true
		status := 0
		if resp != nil {
			status = resp.Status
		}
		inv.span.SetAttributes(
			trace.KeyFunction.String(v.Function),
			trace.KeyProject.String(d.Project),
			trace.KeyVersion.Int(v.Number),
			trace.KeyInvocationID.String(res.InvocationID),
			trace.KeyTrigger.String(r.Trigger),
			trace.KeyColdStart.Bool(cold),
			trace.KeyMemoryMB.Int64(int64(v.Config.MemoryMB)),
			trace.KeyOutcome.String(string(u.Outcome)),
			trace.KeyBilledMS.Int64(u.BilledMS),
			trace.KeyStatus.Int(status), // 0: no answer
		)
	}
	if o := iv.cfg.Observer; o != nil {
		o.ObserveInvocation(d.Project, u)
	}
	return err
}

// shapeResponse turns a Lambda-shaped function's answer into its caller's:
// a 2xx answer is its result; any other status is the function's failure.
func shapeResponse(s Shaper, resp *wire.Response) (*wire.Response, error) {
	if resp.Status < 200 || resp.Status > 299 {
		body := string(resp.Body)
		if len(body) > 200 {
			body = body[:200] + "…"
		}
		return nil, fmt.Errorf("%w: the function answered status %d (a Lambda-shaped function answers its result with a 2xx): %q",
			lambda.ErrBadResponse, resp.Status, body)
	}
	return s.LambdaResponse(resp)
}

func (iv *Invoker) platformLog(base record.LogLine, level record.LogLevel, msg string, tap func(record.LogLine)) {
	l := base
	l.Stream, l.Level, l.Line, l.Time = "platform", level, msg, time.Now().UTC()
	iv.meter.RecordLog(l)
	if tap != nil {
		tap(l)
	}
}

// newInvocationID writes a UUID version 7 into out and returns it as a
// string aliasing out, which must not change afterwards: a millisecond
// timestamp then random bits, so ids sort by time (which keeps usage and
// log indexes local). The random part comes from the runtime's fast
// generator: ids must be unique, not secret.
func newInvocationID(out *[36]byte) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(time.Now().UnixMilli())<<16|uint64(rand.Uint32()&0x0fff))
	binary.BigEndian.PutUint64(b[8:16], rand.Uint64())
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // RFC 9562 variant
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return unsafe.String(&out[0], len(out))
}

// Running is how many invocations are in progress on this node.
func (iv *Invoker) Running() int { return int(iv.running.Load()) }

// SyncLogs returns once every log line recorded so far on this node is in
// the store. Lines are recorded before Invoke returns, so before the
// response is written; the logs API calls this before it reads, which makes
// every line of an answered request visible to `strata logs` (on this
// node) without a store write on the request path.
func (iv *Invoker) SyncLogs(ctx context.Context) error { return iv.meter.SyncLogs(ctx) }

// Close flushes the meter: usage and logs recorded so far reach the
// store. Close the registry first, so invocations in flight finish.
func (iv *Invoker) Close(ctx context.Context) error {
	iv.meter.Stop()
	return nil
}
