package invoke

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata/internal/bindings"
	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// ErrNoFunction is returned when a function is not deployed.
var ErrNoFunction = errors.New("function not deployed")

// ErrLoading is returned for a deployed function whose module this node is
// still compiling or initialising after a start (see Load): the caller may
// retry shortly, unlike ErrNoFunction.
var ErrLoading = errors.New("function still loading")

// Config configures an Invoker.
type Config struct {
	Store       store.Store
	Runtime     *wasm.Runtime
	Clock       clock.Clock
	Logger      *slog.Logger
	IdleTimeout time.Duration // idle instances are reclaimed after this (scale to zero)
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
	// MaxConcurrency.
	MemoryBudgetMB int64
	LogTap         func(record.LogLine) // optional: sees every guest log line
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

// Invoker runs invocations against the active version of each function.
type Invoker struct {
	cfg   Config
	meter *Meter

	mu       sync.RWMutex
	active   map[string]*deployed // function → its active version
	prepared map[string]*compiled // versionKey → compiled module, shared by versions with equal code+config
	syncMu   sync.Mutex           // serialises Sync
	// loading holds the functions Load has not settled yet (function →
	// the version being loaded): Invoke answers ErrLoading for them
	// instead of ErrNoFunction, and Sync leaves them to Load.
	loading map[string]int // guarded by mu
	running atomic.Int64   // invocations in progress, for MaxConcurrency
	// projects counts each project's invocations in progress, for
	// ProjectConcurrency; entries are added by Sync and never removed (a
	// counter per project name ever served, a few words each).
	projects map[string]*atomic.Int64 // guarded by mu
	budget   *pool.Budget
	retiring sync.WaitGroup // pools draining after a swap
}

// deployed is one function version ready to serve: its module and pool.
type deployed struct {
	version record.Version
	project string // the function's project: host calls act within it
	mod     *compiled
	pool    *pool.Pool
	running *atomic.Int64 // the project's invocations in progress
}

// compiled is a compiled module shared by every version with the same code
// and configuration. users counts the pools built on it; it is closed only
// when no pool uses it and it was not prepared recently (a deploy in
// progress prepares modules before any pool uses them).
type compiled struct {
	key        string
	mod        *wasm.Module
	preparedAt time.Time
	users      int // guarded by Invoker.mu
}

// preparedGrace is how long an unused prepared module is kept for the
// deploy that prepared it.
const preparedGrace = 10 * time.Minute

// provisionTimeout bounds pre-warming a version's provisioned instances
// before it becomes active, so a slow start cannot hold a deploy forever.
const provisionTimeout = 30 * time.Second

// New returns an invoker. Call Sync to load what the store says is active.
func New(cfg Config) *Invoker {
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
	return &Invoker{
		cfg:      cfg,
		meter:    NewMeter(cfg.Store, cfg.Logger, cfg.LogTap),
		active:   map[string]*deployed{},
		prepared: map[string]*compiled{},
		loading:  map[string]int{},
		projects: map[string]*atomic.Int64{},
		budget:   pool.NewBudget(cfg.MemoryBudgetMB, projectMemoryMB(cfg)),
	}
}

func versionKey(function, sha string, c record.FunctionConfig) string {
	// Env is part of the instance configuration, so it is part of the key.
	// So is the function: its instances send events as that function.
	return fmt.Sprintf("%s|%s|%s|%d|%v", function, sha, c.Kind, c.MemoryMB, c.Env)
}

// functionName strips a "@<version>" suffix: Prepare is called with either
// the function's name or "fn@3".
func functionName(s string) string {
	if i := strings.LastIndexByte(s, '@'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}

// Prepare compiles a module for a version that is about to be deployed, so
// compile errors reject the deploy before anything is written and the first
// request never pays compilation. The result is cached for Sync. It returns
// the module's kind, detected from its exports when c.Kind is empty.
func (iv *Invoker) Prepare(ctx context.Context, function string, bin []byte, sha string, c record.FunctionConfig) (string, error) {
	fn := functionName(function)
	key := versionKey(fn, sha, c)
	iv.mu.RLock()
	p, ok := iv.prepared[key]
	iv.mu.RUnlock()
	if ok {
		return p.mod.Kind(), nil
	}
	mod, err := iv.cfg.Runtime.Compile(ctx, bin, wasm.ModuleSpec{
		Name: function, Function: fn, Kind: c.Kind, MemoryMB: c.MemoryMB, Env: c.Env,
	})
	if err != nil {
		return "", err
	}
	if c.Kind == "" {
		// Key the module by the kind it turned out to be: that is what the
		// version records and what Sync looks up.
		c.Kind = mod.Kind()
		key = versionKey(fn, sha, c)
	}
	iv.mu.Lock()
	if p, ok := iv.prepared[key]; ok {
		iv.mu.Unlock()
		_ = mod.Close(ctx)
		return p.mod.Kind(), nil
	}
	iv.prepared[key] = &compiled{key: key, mod: mod, preparedAt: iv.cfg.Clock.Now()}
	iv.mu.Unlock()
	return mod.Kind(), nil
}

// Sync makes the served versions match the store: functions whose active
// version changed get a new pool (the old pool drains in-flight invocations
// and then closes), removed functions are dropped. It is how deploys,
// rollbacks and other nodes' changes take effect.
func (iv *Invoker) Sync(ctx context.Context) error {
	iv.syncMu.Lock()
	defer iv.syncMu.Unlock()
	fns, err := iv.cfg.Store.FunctionList(ctx)
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	want := make(map[string]record.Version, len(fns))
	projectOf := make(map[string]string, len(fns))
	for _, f := range fns {
		projectOf[f.Name] = f.Project
		iv.mu.RLock()
		cur := iv.active[f.Name]
		iv.mu.RUnlock()
		if cur != nil && cur.version.Number == f.ActiveVersion {
			want[f.Name] = cur.version
			continue
		}
		v, err := iv.cfg.Store.VersionGet(ctx, f.Name, f.ActiveVersion)
		if err != nil {
			return fmt.Errorf("load %s@%d: %w", f.Name, f.ActiveVersion, err)
		}
		want[f.Name] = *v
	}

	var retired []*deployed
	for name, v := range want {
		iv.mu.RLock()
		cur := iv.active[name]
		loadingVersion, loading := iv.loading[name]
		iv.mu.RUnlock()
		if cur != nil && cur.version.Number == v.Number {
			continue
		}
		if loading && loadingVersion == v.Number {
			// Load is compiling it (a deploy during start-up): it
			// activates it when ready, without holding up this Sync.
			continue
		}
		c, err := iv.compiledFor(ctx, v)
		iv.mu.Lock()
		delete(iv.loading, name) // another version is active now, or none
		iv.mu.Unlock()
		if err != nil {
			// One broken version must not stop the others from loading.
			iv.cfg.Logger.Error("load function version", "function", name, "version", v.Number, "err", err)
			continue
		}
		if old := iv.activate(ctx, v, projectOf[name], c); old != nil {
			retired = append(retired, old)
		}
	}
	iv.mu.Lock()
	for name, d := range iv.active {
		if _, ok := want[name]; !ok {
			delete(iv.active, name)
			retired = append(retired, d)
		}
	}
	for name := range iv.loading {
		if _, ok := want[name]; !ok {
			delete(iv.loading, name) // removed while loading
		}
	}
	iv.mu.Unlock()
	iv.retire(ctx, retired)
	return nil
}

// activate makes v, compiled as c, the version that serves its function,
// and returns the version it replaces (nil if none). The caller holds
// syncMu.
func (iv *Invoker) activate(ctx context.Context, v record.Version, project string, c *compiled) *deployed {
	name := v.Function
	iv.mu.RLock()
	cur := iv.active[name]
	iv.mu.RUnlock()
	maxInst := max(v.Config.MaxConcurrency, 1)
	if lim := iv.cfg.ProjectConcurrency; lim > 0 && maxInst > lim {
		// More than the project may ever run at once on this node:
		// clamp (nodes may differ in size, so this is no deploy error).
		iv.cfg.Logger.Warn("function max_concurrency above this node's per-project cap; clamped",
			"function", name, "version", v.Number, "max_concurrency", v.Config.MaxConcurrency, "project_concurrency", lim)
		maxInst = lim
	}
	d := &deployed{version: v, mod: c, project: project, pool: pool.New(c.mod, pool.Config{
		MaxInstances: maxInst,
		IdleTimeout:  iv.cfg.IdleTimeout,
		Clock:        iv.cfg.Clock,
		Provisioned:  v.Config.Provisioned,
		Logger:       iv.cfg.Logger,
		Budget:       iv.budget,
		Project:      project,
	})}
	if v.Config.Provisioned > 0 {
		// Traffic moves to a warm version: instantiate the provisioned
		// instances before the swap. Failing here is not fatal: the
		// pool's maintenance keeps trying, and requests cold-start.
		pctx, cancel := context.WithTimeout(ctx, provisionTimeout)
		if err := d.pool.Prewarm(pctx, v.Config.Provisioned); err != nil {
			iv.cfg.Logger.Warn("pre-warm provisioned instances", "function", name, "version", v.Number,
				"provisioned", v.Config.Provisioned, "err", err)
		}
		cancel()
	}
	iv.mu.Lock()
	d.running = iv.projects[d.project]
	if d.running == nil {
		d.running = new(atomic.Int64)
		iv.projects[d.project] = d.running
	}
	c.users++
	iv.active[name] = d
	iv.mu.Unlock()
	iv.cfg.Logger.Info("function version active", "function", name, "version", v.Number)
	return cur
}

// retire closes the pools of replaced versions once their in-flight
// invocations finish.
func (iv *Invoker) retire(ctx context.Context, retired []*deployed) {
	// Retired pools finish their in-flight invocations before closing; new
	// requests already go to the new pool, so nothing is dropped.
	for _, d := range retired {
		iv.retiring.Add(1)
		go func(d *deployed) {
			defer iv.retiring.Done()
			cctx, cancel := context.WithTimeout(context.Background(), time.Duration(d.version.Config.TimeoutMS)*time.Millisecond+5*time.Second)
			defer cancel()
			if err := d.pool.Close(cctx); err != nil {
				iv.cfg.Logger.Warn("close retired pool", "function", d.version.Function, "version", d.version.Number, "err", err)
			}
			iv.mu.Lock()
			d.mod.users--
			iv.mu.Unlock()
			iv.gcPrepared(cctx)
		}(d)
	}
	iv.gcPrepared(ctx)
}

// Load is the first Sync of a node that just started, done so that the
// node can serve while it runs: every deployed function is marked loading
// (Invoke answers ErrLoading for it), the active versions are compiled
// and initialised several at once (workers), and each one serves as soon
// as it is ready, so one slow module (up to the compile budget or init
// timeout) holds up only its own function. A version that fails is
// logged and left out (its function answers ErrNoFunction, as after a
// Sync). It ends with a Sync, which also picks up deploys made meanwhile.
func (iv *Invoker) Load(ctx context.Context, workers int) error {
	fns, err := iv.cfg.Store.FunctionList(ctx)
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	iv.mu.Lock()
	for _, f := range fns {
		if iv.active[f.Name] == nil {
			iv.loading[f.Name] = f.ActiveVersion
		}
	}
	iv.mu.Unlock()
	slots := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			iv.loadOne(ctx, f)
		})
	}
	wg.Wait()
	iv.mu.Lock()
	clear(iv.loading) // each loadOne settled its own; this covers none missed
	iv.mu.Unlock()
	return iv.Sync(ctx)
}

// loadOne compiles f's active version outside syncMu (the slow part, run
// alongside the others) and activates it unless a Sync settled the
// function meanwhile.
func (iv *Invoker) loadOne(ctx context.Context, f record.Function) {
	v, err := iv.cfg.Store.VersionGet(ctx, f.Name, f.ActiveVersion)
	var c *compiled
	if err == nil {
		c, err = iv.compiledFor(ctx, *v)
	}
	iv.syncMu.Lock()
	defer iv.syncMu.Unlock()
	iv.mu.Lock()
	n, still := iv.loading[f.Name]
	if still && n == f.ActiveVersion {
		delete(iv.loading, f.Name)
	}
	iv.mu.Unlock()
	if !still || n != f.ActiveVersion {
		return // a Sync settled it (a deploy or removal during start-up)
	}
	if err != nil && ctx.Err() != nil {
		return // the node is stopping
	}
	if err != nil {
		iv.cfg.Logger.Error("load function version; its routes answer 404 until a deploy fixes it",
			"function", f.Name, "version", f.ActiveVersion, "err", err)
		return
	}
	if old := iv.activate(ctx, *v, f.Project, c); old != nil {
		iv.retire(ctx, []*deployed{old})
	}
}

// Loading returns "function@version" for each function Load has not
// settled yet.
func (iv *Invoker) Loading() []string {
	iv.mu.RLock()
	defer iv.mu.RUnlock()
	out := make([]string, 0, len(iv.loading))
	for name, n := range iv.loading {
		out = append(out, fmt.Sprintf("%s@%d", name, n))
	}
	sort.Strings(out)
	return out
}

// compiledFor returns the compiled module for v, compiling it from its blob
// when this node has not prepared it (after a restart, or when another node
// deployed it).
func (iv *Invoker) compiledFor(ctx context.Context, v record.Version) (*compiled, error) {
	key := versionKey(v.Function, v.ModuleSHA256, v.Config)
	iv.mu.RLock()
	c := iv.prepared[key]
	iv.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	bin, err := iv.cfg.Store.BlobGet(ctx, v.ModuleSHA256)
	if err != nil {
		return nil, fmt.Errorf("module %s of %s@%d: %w", v.ModuleSHA256, v.Function, v.Number, err)
	}
	if _, err := iv.Prepare(ctx, fmt.Sprintf("%s@%d", v.Function, v.Number), bin, v.ModuleSHA256, v.Config); err != nil {
		return nil, fmt.Errorf("compile %s@%d: %w", v.Function, v.Number, err)
	}
	iv.mu.RLock()
	defer iv.mu.RUnlock()
	return iv.prepared[key], nil
}

// gcPrepared closes compiled modules that no pool uses and that were not
// prepared recently.
func (iv *Invoker) gcPrepared(ctx context.Context) {
	now := iv.cfg.Clock.Now()
	iv.mu.Lock()
	var drop []*compiled
	for k, c := range iv.prepared {
		if c.users == 0 && now.Sub(c.preparedAt) > preparedGrace {
			drop = append(drop, c)
			delete(iv.prepared, k)
		}
	}
	iv.mu.Unlock()
	for _, c := range drop {
		_ = c.mod.Close(ctx)
	}
}

// Request is one invocation to run.
type Request struct {
	Function    string
	Trigger     string // "http", "invoke"
	TraceParent string // incoming W3C traceparent, may be empty
	Wire        *wire.Request
}

// Result is a finished invocation.
type Result struct {
	Response     *wire.Response
	InvocationID string
	Version      int
	Trace        TraceContext
	Cold         bool
	Duration     time.Duration
}

// Invoke runs one invocation on the function's active version. The error,
// when not nil, is one of ErrNoFunction, pool.ErrAtCapacity,
// wasm.ErrTimeout, wasm.ErrResponseTooLarge or a *wasm.TrapError
// (wrapped); Result is returned in every case where an invocation id was
// assigned, so callers can report it.
func (iv *Invoker) Invoke(ctx context.Context, r Request) (*Result, error) {
	res := &Result{InvocationID: newInvocationID(), Trace: NewTrace(r.TraceParent)}
	if limit := iv.cfg.MaxConcurrency; limit > 0 {
		if iv.running.Add(1) > int64(limit) {
			iv.running.Add(-1)
			return res, fmt.Errorf("platform concurrency limit of %d reached: %w", limit, pool.ErrAtCapacity)
		}
		defer iv.running.Add(-1)
	}
	for attempt := 0; ; attempt++ {
		iv.mu.RLock()
		d := iv.active[r.Function]
		loadingVersion, loading := iv.loading[r.Function]
		iv.mu.RUnlock()
		if d == nil && loading {
			return res, fmt.Errorf("function %s@%d is still loading on this node (compiling or initialising after a start); retry shortly: %w",
				r.Function, loadingVersion, ErrLoading)
		}
		if d == nil {
			return res, fmt.Errorf("%w: %s", ErrNoFunction, r.Function)
		}
		err := iv.admitProject(ctx, d, r, res)
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
// (429), leaving the rest of the node to other projects.
func (iv *Invoker) admitProject(ctx context.Context, d *deployed, r Request, res *Result) error {
	if lim := iv.cfg.ProjectConcurrency; lim > 0 {
		if d.running.Add(1) > int64(lim) {
			d.running.Add(-1)
			return fmt.Errorf("project %s: its share of this node, %d invocations at once, is in use "+
				"(the rest of the node is kept for other projects; see --project-concurrency): %w",
				d.project, lim, pool.ErrAtCapacity)
		}
		defer d.running.Add(-1)
	}
	return iv.run(ctx, d, r, res)
}

func (iv *Invoker) run(ctx context.Context, d *deployed, r Request, res *Result) error {
	v := d.version
	timeout := time.Duration(v.Config.TimeoutMS) * time.Millisecond
	start := iv.cfg.Clock.Now()
	ctx, cancel := context.WithDeadline(ctx, start.Add(timeout))
	defer cancel()

	req := r.Wire
	req.InvocationID = res.InvocationID
	req.TraceParent = res.Trace.Header()
	req.DeadlineMS = start.Add(timeout).UnixMilli()
	// Host calls (SQL, KV, fetch, secrets) act for this invocation: its
	// function's bindings, its deadline, its trace.
	idle := new(atomic.Int64)
	ctx = context.WithValue(ctx, idleKey{}, idle)
	ctx = bindings.WithCaller(ctx, bindings.Caller{
		Function: v.Function, Project: d.project, Version: v.Number, InvocationID: res.InvocationID, Config: v.Config,
		Deadline: start.Add(timeout), TraceParent: req.TraceParent,
	})
	if len(v.Config.Bindings) > 0 && iv.cfg.Bindings != nil {
		// A transaction the guest left open ends with the invocation.
		defer iv.cfg.Bindings.EndInvocation(res.InvocationID)
	}

	base := record.LogLine{InvocationID: res.InvocationID, Function: v.Function, Version: v.Number, TraceID: res.Trace.TraceID}
	budget, dropped := maxLinesPerInvoke, 0
	stdout := &lineWriter{meter: iv.meter, base: base, stream: "stdout", budget: &budget, dropped: &dropped}
	stderr := &lineWriter{meter: iv.meter, base: base, stream: "stderr", budget: &budget, dropped: &dropped}

	resp, cold, err := d.pool.Invoke(ctx, req, wasm.Output{Stdout: stdout, Stderr: stderr})
	if errors.Is(err, pool.ErrClosed) {
		return err
	}
	dur := iv.cfg.Clock.Now().Sub(start)
	stdout.flush()
	stderr.flush()
	if dropped > 0 {
		iv.platformLog(base, fmt.Sprintf(droppedLinesFormat, dropped, maxLinesPerInvoke))
	}

	res.Response, res.Version, res.Cold, res.Duration = resp, v.Number, cold, dur
	u := record.Usage{
		InvocationID: res.InvocationID, Function: v.Function, Version: v.Number,
		Trigger: r.Trigger, TraceID: res.Trace.TraceID, Start: start.UTC(), Duration: dur,
		BilledMS: billedMS(dur - time.Duration(idle.Load())), MemoryMB: v.Config.MemoryMB, Cold: cold, Outcome: record.OutcomeOK,
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
			iv.platformLog(base, "invocation failed: "+err.Error())
		}
	}
	iv.meter.RecordUsage(u)
	return err
}

func (iv *Invoker) platformLog(base record.LogLine, msg string) {
	l := base
	l.Stream, l.Line, l.Time = "platform", msg, time.Now().UTC()
	iv.meter.RecordLog(l)
}

type idleKey struct{}

// AddIdle records that the invocation whose context is ctx spent d
// waiting on the platform rather than working: a workflow orchestrator
// blocked while its steps run. Idle time is in the invocation's duration
// but not in its billed time (as Step Functions and Durable Functions do
// not bill an orchestration's waits). Outside an invocation it does
// nothing.
func AddIdle(ctx context.Context, d time.Duration) {
	if c, ok := ctx.Value(idleKey{}).(*atomic.Int64); ok && d > 0 {
		c.Add(int64(d))
	}
}

// billedMS rounds a duration up to whole milliseconds, at least 1, as Lambda
// bills.
func billedMS(d time.Duration) int64 {
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	return max(ms, 1)
}

// newInvocationID returns a UUID version 7: a millisecond timestamp then
// random bits, so ids sort by time (which keeps usage and log indexes
// local). The random part comes from the runtime's fast generator: ids must
// be unique, not secret.
func newInvocationID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(time.Now().UnixMilli())<<16|uint64(rand.Uint32()&0x0fff))
	binary.BigEndian.PutUint64(b[8:16], rand.Uint64())
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// Active reports the active version number of a function, 0 if none.
func (iv *Invoker) Active(function string) int {
	iv.mu.RLock()
	defer iv.mu.RUnlock()
	if d := iv.active[function]; d != nil {
		return d.version.Number
	}
	return 0
}

// Versions returns the active version of every function this node serves.
func (iv *Invoker) Versions() []record.Version {
	iv.mu.RLock()
	defer iv.mu.RUnlock()
	out := make([]record.Version, 0, len(iv.active))
	for _, d := range iv.active {
		out = append(out, d.version)
	}
	return out
}

// PoolStats reports the pool statistics of each active function.
func (iv *Invoker) PoolStats() map[string]pool.Stats {
	iv.mu.RLock()
	defer iv.mu.RUnlock()
	out := make(map[string]pool.Stats, len(iv.active))
	for name, d := range iv.active {
		out[name] = d.pool.Stats()
	}
	return out
}

// MemoryBudget reports the node's instance memory budget and what live
// instances hold of it (zero when there is no budget).
func (iv *Invoker) MemoryBudget() pool.BudgetStats { return iv.budget.Stats() }

// Close drains every pool, flushes the meter and closes compiled modules.
func (iv *Invoker) Close(ctx context.Context) error {
	iv.mu.Lock()
	act := iv.active
	iv.active = map[string]*deployed{}
	prep := iv.prepared
	iv.prepared = map[string]*compiled{}
	iv.mu.Unlock()
	var errs []error
	for _, d := range act {
		errs = append(errs, d.pool.Close(ctx))
	}
	iv.retiring.Wait()
	iv.meter.Stop()
	for _, c := range prep {
		errs = append(errs, c.mod.Close(ctx))
	}
	return errors.Join(errs...)
}
