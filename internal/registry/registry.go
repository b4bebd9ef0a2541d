package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/process"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
)

// Store is the part of the store the registry reads: which version of
// each function is active, and the modules.
type Store interface {
	FunctionList(ctx context.Context) ([]record.Function, error)
	VersionGet(ctx context.Context, function string, number int) (*record.Version, error)
	BlobGet(ctx context.Context, sha256 string) ([]byte, error)
}

// Config configures a Registry.
type Config struct {
	Store   Store
	Runtime *wasm.Runtime
	// Process runs process functions (kind: process); nil refuses them
	// with process.ErrUnavailable.
	Process     *process.Runtime
	Clock       clock.Clock
	Logger      *slog.Logger
	IdleTimeout time.Duration // idle instances are reclaimed after this (scale to zero)
	// Pools are the limits every pool the registry builds shares with the
	// invoker's admission (invoke.Config.PoolLimits).
	Pools PoolLimits
	// Tracer records the pools' cold starts as spans; nil records none.
	Tracer *trace.Tracer
}

// PoolLimits are what the node's admission limits ask of each pool.
type PoolLimits struct {
	// MaxInstances caps a pool's instances: a function's max_concurrency
	// above it is clamped to it, with a warning (nodes may differ in
	// size, so this is no deploy error). 0: no cap beyond the function's.
	MaxInstances int
	// Budget is the node's instance memory budget every pool draws on
	// (nil: none).
	Budget *pool.Budget
}

// Registry holds the function versions this node serves: each function's
// active version, compiled, with its warm pool. It is safe for concurrent
// use.
type Registry struct {
	cfg Config

	mu       sync.RWMutex
	active   map[string]*Deployed // function → its active version
	prepared map[string]*compiled // versionKey → compiled module, shared by versions with equal code+config
	syncMu   sync.Mutex           // serialises Sync
	// loading holds the functions Load has not settled yet (function →
	// the version being loaded): Lookup reports them as loading, and
	// Sync leaves them to Load.
	loading  map[string]int // guarded by mu
	retiring sync.WaitGroup // pools draining after a swap
}

// Deployed is one function version ready to serve: its module and pool.
type Deployed struct {
	Version record.Version
	Project string // the function's project: host calls act within it
	Pool    *pool.Pool
	mod     *compiled
}

// compiled is a compiled module shared by every version with the same code
// and configuration. users counts the pools built on it; it is closed only
// when no pool uses it and it was not prepared recently (a deploy in
// progress prepares modules before any pool uses them).
type compiled struct {
	key        string
	mod        module
	preparedAt time.Time
	users      int // guarded by Registry.mu
}

// module is what the registry keeps of a prepared version: a Wasm module
// (pool.Wasm) or a process function's code (*process.Module).
type module interface {
	pool.Module
	Snapshotted() bool
	Close(ctx context.Context) error
}

var (
	_ module = pool.Wasm{}
	_ module = processModule{}
)

// processModule adapts a process module to pool.Module (its Instantiate
// returns the concrete instance type).
type processModule struct{ *process.Module }

func (m processModule) Instantiate(ctx context.Context) (pool.Instance, error) {
	inst, err := m.Module.Instantiate(ctx)
	if err != nil {
		return nil, err
	}
	return inst, nil
}

// compile compiles a Wasm module or unpacks and trial-starts a process
// function's code.
func (reg *Registry) compile(ctx context.Context, function, fn string, bin []byte, c record.FunctionConfig) (module, Prepared, error) {
	if c.Kind == record.KindProcess {
		if reg.cfg.Process == nil {
			return nil, Prepared{}, fmt.Errorf("%s: %w: this node runs no process functions", function, process.ErrUnavailable)
		}
		n := 0
		if i := strings.LastIndexByte(function, '@'); i > 0 {
			n, _ = strconv.Atoi(function[i+1:])
		}
		m, err := reg.cfg.Process.Compile(ctx, bin, process.Spec{
			Name: function, Function: fn, Version: n, Runtime: c.Runtime, Handler: c.Handler, MemoryMB: c.MemoryMB, Env: c.Env,
		})
		if err != nil {
			return nil, Prepared{}, err
		}
		return processModule{m}, Prepared{Kind: record.KindProcess, Init: m.InitTime()}, nil
	}
	mod, err := reg.cfg.Runtime.Compile(ctx, bin, wasm.ModuleSpec{
		Name: function, Function: fn, Kind: c.Kind, MemoryMB: c.MemoryMB, Env: c.Env,
	})
	if err != nil {
		return nil, Prepared{}, err
	}
	return pool.Wasm{Module: mod}, Prepared{Kind: mod.Kind(), Compile: mod.CompileTime(), Init: mod.InitTime(), Snapshot: mod.Snapshotted()}, nil
}

// preparedGrace is how long an unused prepared module is kept for the
// deploy that prepared it.
const preparedGrace = 10 * time.Minute

// provisionTimeout bounds pre-warming a version's provisioned instances
// before it becomes active, so a slow start cannot hold a deploy forever.
const provisionTimeout = 30 * time.Second

// New returns a registry. Call Load (on a start) or Sync to serve what
// the store says is active.
func New(cfg Config) *Registry {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Registry{
		cfg:      cfg,
		active:   map[string]*Deployed{},
		prepared: map[string]*compiled{},
		loading:  map[string]int{},
	}
}

// Lookup returns the version that serves function, or nil; loading
// reports a function Load has not settled yet (the version it loads in
// version): it will serve shortly.
func (reg *Registry) Lookup(function string) (d *Deployed, version int, loading bool) {
	reg.mu.RLock()
	d = reg.active[function]
	version, loading = reg.loading[function]
	reg.mu.RUnlock()
	return d, version, loading
}

func versionKey(function, sha string, c record.FunctionConfig) string {
	// Env is part of the instance configuration, so it is part of the key.
	// So is the function: its instances send events as that function.
	return fmt.Sprintf("%s|%s|%s|%d|%v|%s|%s", function, sha, c.Kind, c.MemoryMB, c.Env, c.Runtime, c.Handler)
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

// Prepared is what Prepare did for one version, for the deploy's answer.
type Prepared struct {
	Kind string // the module's kind, detected from its exports when the config left it empty
	// Compile is the time spent compiling (0 when the code was compiled
	// before), Init the time spent initialising one instance (and taking
	// its snapshot when Snapshot).
	Compile, Init time.Duration
	Snapshot      bool
	// Reused is true when this node had prepared the same code and
	// configuration already: nothing was compiled or run.
	Reused bool
}

// Prepare compiles a module for a version that is about to be deployed
// and initialises one instance of it, so compile errors and a failing init
// (panic, trap, timeout, out of memory: *wasm.InitError) reject the deploy
// before anything is written and the first request never pays
// compilation. The result is cached for Sync.
func (reg *Registry) Prepare(ctx context.Context, function string, bin []byte, sha string, c record.FunctionConfig) (Prepared, error) {
	fn := functionName(function)
	key := versionKey(fn, sha, c)
	reg.mu.RLock()
	p, ok := reg.prepared[key]
	reg.mu.RUnlock()
	if ok {
		return Prepared{Kind: p.mod.Kind(), Snapshot: p.mod.Snapshotted(), Reused: true}, nil
	}
	mod, out, err := reg.compile(ctx, function, fn, bin, c)
	if err != nil {
		return Prepared{}, err
	}
	if c.Kind == "" {
		// Key the module by the kind it turned out to be: that is what the
		// version records and what Sync looks up.
		c.Kind = mod.Kind()
		key = versionKey(fn, sha, c)
	}
	reg.mu.Lock()
	if p, ok := reg.prepared[key]; ok {
		reg.mu.Unlock()
		_ = mod.Close(ctx)
		return Prepared{Kind: p.mod.Kind(), Snapshot: p.mod.Snapshotted(), Reused: true}, nil
	}
	reg.prepared[key] = &compiled{key: key, mod: mod, preparedAt: reg.cfg.Clock.Now()}
	reg.mu.Unlock()
	return out, nil
}

// Sync makes the served versions match the store: functions whose active
// version changed get a new pool (the old pool drains in-flight invocations
// and then closes), removed functions are dropped. It is how deploys,
// rollbacks and other nodes' changes take effect.
func (reg *Registry) Sync(ctx context.Context) error {
	reg.syncMu.Lock()
	defer reg.syncMu.Unlock()
	fns, err := reg.cfg.Store.FunctionList(ctx)
	if err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	want := make(map[string]record.Version, len(fns))
	projectOf := make(map[string]string, len(fns))
	for _, f := range fns {
		projectOf[f.Name] = f.Project
		reg.mu.RLock()
		cur := reg.active[f.Name]
		reg.mu.RUnlock()
		if cur != nil && cur.Version.Number == f.ActiveVersion {
			want[f.Name] = cur.Version
			continue
		}
		v, err := reg.cfg.Store.VersionGet(ctx, f.Name, f.ActiveVersion)
		if err != nil {
			return fmt.Errorf("load %s@%d: %w", f.Name, f.ActiveVersion, err)
		}
		want[f.Name] = *v
	}

	var retired []*Deployed
	for name, v := range want {
		reg.mu.RLock()
		cur := reg.active[name]
		loadingVersion, loading := reg.loading[name]
		reg.mu.RUnlock()
		if cur != nil && cur.Version.Number == v.Number {
			continue
		}
		if loading && loadingVersion == v.Number {
			// Load is compiling it (a deploy during start-up): it
			// activates it when ready, without holding up this Sync.
			continue
		}
		c, err := reg.compiledFor(ctx, v)
		reg.mu.Lock()
		delete(reg.loading, name) // another version is active now, or none
		reg.mu.Unlock()
		if err != nil {
			// One broken version must not stop the others from loading.
			reg.cfg.Logger.Error("load function version", "function", name, "version", v.Number, "err", err)
			continue
		}
		if old := reg.activate(ctx, v, projectOf[name], c); old != nil {
			retired = append(retired, old)
		}
	}
	reg.mu.Lock()
	for name, d := range reg.active {
		if _, ok := want[name]; !ok {
			delete(reg.active, name)
			retired = append(retired, d)
		}
	}
	for name := range reg.loading {
		if _, ok := want[name]; !ok {
			delete(reg.loading, name) // removed while loading
		}
	}
	reg.mu.Unlock()
	reg.retire(ctx, retired)
	return nil
}

// activate makes v, compiled as c, the version that serves its function,
// and returns the version it replaces (nil if none). The caller holds
// syncMu.
func (reg *Registry) activate(ctx context.Context, v record.Version, project string, c *compiled) *Deployed {
	name := v.Function
	reg.mu.RLock()
	cur := reg.active[name]
	reg.mu.RUnlock()
	maxInst := max(v.Config.MaxConcurrency, 1)
	if lim := reg.cfg.Pools.MaxInstances; lim > 0 && maxInst > lim {
		// More than the project may ever run at once on this node:
		// clamp (nodes may differ in size, so this is no deploy error).
		reg.cfg.Logger.Warn("function max_concurrency above this node's per-project cap; clamped",
			"function", name, "version", v.Number, "max_concurrency", v.Config.MaxConcurrency, "project_concurrency", lim)
		maxInst = lim
	}
	d := &Deployed{Version: v, mod: c, Project: project, Pool: pool.NewOf(c.mod, pool.Config{
		MaxInstances: maxInst,
		IdleTimeout:  reg.cfg.IdleTimeout,
		Clock:        reg.cfg.Clock,
		Provisioned:  v.Config.Provisioned,
		Logger:       reg.cfg.Logger,
		Budget:       reg.cfg.Pools.Budget,
		Project:      project,
		Tracer:       reg.cfg.Tracer,
	})}
	if v.Config.Provisioned > 0 {
		// Traffic moves to a warm version: instantiate the provisioned
		// instances before the swap. Failing here is not fatal: the
		// pool's maintenance keeps trying, and requests cold-start.
		pctx, cancel := context.WithTimeout(ctx, provisionTimeout)
		if err := d.Pool.Prewarm(pctx, v.Config.Provisioned); err != nil {
			reg.cfg.Logger.Warn("pre-warm provisioned instances", "function", name, "version", v.Number,
				"provisioned", v.Config.Provisioned, "err", err)
		}
		cancel()
	}
	reg.mu.Lock()
	c.users++
	reg.active[name] = d
	reg.mu.Unlock()
	// Debug: a deploy's own log line (and the CLI) says what changed; this
	// one per function per node repeats it.
	reg.cfg.Logger.Debug("function version active", "function", name, "version", v.Number)
	return cur
}

// retire closes the pools of replaced versions once their in-flight
// invocations finish.
func (reg *Registry) retire(ctx context.Context, retired []*Deployed) {
	// Retired pools finish their in-flight invocations before closing; new
	// requests already go to the new pool, so nothing is dropped.
	for _, d := range retired {
		reg.retiring.Add(1)
		go func(d *Deployed) {
			defer reg.retiring.Done()
			cctx, cancel := context.WithTimeout(context.Background(), time.Duration(d.Version.Config.TimeoutMS)*time.Millisecond+5*time.Second)
			defer cancel()
			if err := d.Pool.Close(cctx); err != nil {
				reg.cfg.Logger.Warn("close retired pool", "function", d.Version.Function, "version", d.Version.Number, "err", err)
			}
			reg.mu.Lock()
			d.mod.users--
			reg.mu.Unlock()
			reg.gcPrepared(cctx)
		}(d)
	}
	reg.gcPrepared(ctx)
}

// Load is the first Sync of a node that just started, done so that the
// node can serve while it runs: every deployed function is marked loading
// (Lookup reports it so, and the invoker answers invoke.ErrLoading), the active versions are compiled
// and initialised several at once (workers), and each one serves as soon
// as it is ready, so one slow module (up to the compile budget or init
// timeout) holds up only its own function. A version that fails is
// logged and left out (its function is not found, as after a
// Sync). It ends with a Sync, which also picks up deploys made meanwhile.
func (reg *Registry) Load(ctx context.Context, workers int) error {
	fns, err := reg.markLoading(ctx)
	if err != nil {
		return err
	}
	slots := make(chan struct{}, max(workers, 1))
	var wg sync.WaitGroup
	for _, f := range fns {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			reg.loadOne(ctx, f)
		})
	}
	wg.Wait()
	reg.mu.Lock()
	clear(reg.loading) // each loadOne settled its own; this covers none missed
	reg.mu.Unlock()
	return reg.Sync(ctx)
}

// MarkLoading marks every deployed function that is not active as
// loading, as Load does first. A node calls it before it listens, so that
// no request arriving before Load starts finds a deployed function
// missing (404) instead of loading (503).
func (reg *Registry) MarkLoading(ctx context.Context) error {
	_, err := reg.markLoading(ctx)
	return err
}

func (reg *Registry) markLoading(ctx context.Context) ([]record.Function, error) {
	fns, err := reg.cfg.Store.FunctionList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	reg.mu.Lock()
	for _, f := range fns {
		if reg.active[f.Name] == nil {
			reg.loading[f.Name] = f.ActiveVersion
		}
	}
	reg.mu.Unlock()
	return fns, nil
}

// loadOne compiles f's active version outside syncMu (the slow part, run
// alongside the others) and activates it unless a Sync settled the
// function meanwhile.
func (reg *Registry) loadOne(ctx context.Context, f record.Function) {
	v, err := reg.cfg.Store.VersionGet(ctx, f.Name, f.ActiveVersion)
	var c *compiled
	if err == nil {
		c, err = reg.compiledFor(ctx, *v)
	}
	reg.syncMu.Lock()
	defer reg.syncMu.Unlock()
	reg.mu.Lock()
	n, still := reg.loading[f.Name]
	if still && n == f.ActiveVersion {
		delete(reg.loading, f.Name)
	}
	reg.mu.Unlock()
	if !still || n != f.ActiveVersion {
		return // a Sync settled it (a deploy or removal during start-up)
	}
	if err != nil && ctx.Err() != nil {
		return // the node is stopping
	}
	if err != nil {
		reg.cfg.Logger.Error("load function version; its routes answer 404 until a deploy fixes it",
			"function", f.Name, "version", f.ActiveVersion, "err", err)
		return
	}
	if old := reg.activate(ctx, *v, f.Project, c); old != nil {
		reg.retire(ctx, []*Deployed{old})
	}
}

// Loading returns "function@version" for each function Load has not
// settled yet.
func (reg *Registry) Loading() []string {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]string, 0, len(reg.loading))
	for name, n := range reg.loading {
		out = append(out, fmt.Sprintf("%s@%d", name, n))
	}
	sort.Strings(out)
	return out
}

// compiledFor returns the compiled module for v, compiling it from its blob
// when this node has not prepared it (after a restart, or when another node
// deployed it).
func (reg *Registry) compiledFor(ctx context.Context, v record.Version) (*compiled, error) {
	key := versionKey(v.Function, v.ModuleSHA256, v.Config)
	reg.mu.RLock()
	c := reg.prepared[key]
	reg.mu.RUnlock()
	if c != nil {
		return c, nil
	}
	bin, err := reg.cfg.Store.BlobGet(ctx, v.ModuleSHA256)
	if err != nil {
		return nil, fmt.Errorf("module %s of %s@%d: %w", v.ModuleSHA256, v.Function, v.Number, err)
	}
	if _, err := reg.Prepare(ctx, fmt.Sprintf("%s@%d", v.Function, v.Number), bin, v.ModuleSHA256, v.Config); err != nil {
		return nil, fmt.Errorf("compile %s@%d: %w", v.Function, v.Number, err)
	}
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	return reg.prepared[key], nil
}

// gcPrepared closes compiled modules that no pool uses and that were not
// prepared recently.
func (reg *Registry) gcPrepared(ctx context.Context) {
	now := reg.cfg.Clock.Now()
	reg.mu.Lock()
	var drop []*compiled
	for k, c := range reg.prepared {
		if c.users == 0 && now.Sub(c.preparedAt) > preparedGrace {
			drop = append(drop, c)
			delete(reg.prepared, k)
		}
	}
	reg.mu.Unlock()
	for _, c := range drop {
		_ = c.mod.Close(ctx)
	}
}

// Active reports the active version number of a function, 0 if none.
func (reg *Registry) Active(function string) int {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	if d := reg.active[function]; d != nil {
		return d.Version.Number
	}
	return 0
}

// Deployed returns the active version of every function this node
// serves, with its project and pool.
func (reg *Registry) Deployed() []*Deployed {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]*Deployed, 0, len(reg.active))
	for _, d := range reg.active {
		out = append(out, d)
	}
	return out
}

// Versions returns the active version of every function this node serves.
func (reg *Registry) Versions() []record.Version {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]record.Version, 0, len(reg.active))
	for _, d := range reg.active {
		out = append(out, d.Version)
	}
	return out
}

// PoolStats reports the pool statistics of each active function.
func (reg *Registry) PoolStats() map[string]pool.Stats {
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make(map[string]pool.Stats, len(reg.active))
	for name, d := range reg.active {
		out[name] = d.Pool.Stats()
	}
	return out
}

// EachPool calls fn with the pool statistics of each active function
// and its project (the metrics collector reads them at scrape time).
func (reg *Registry) EachPool(fn func(project, function string, s pool.Stats)) {
	reg.mu.RLock()
	ds := make([]*Deployed, 0, len(reg.active))
	for _, d := range reg.active {
		ds = append(ds, d)
	}
	reg.mu.RUnlock() // fn (a channel send) may block: not under the lock
	for _, d := range ds {
		fn(d.Project, d.Version.Function, d.Pool.Stats())
	}
}

// MemoryBudget reports the node's instance memory budget and what live
// instances hold of it (zero when there is no budget).
func (reg *Registry) MemoryBudget() pool.BudgetStats { return reg.cfg.Pools.Budget.Stats() }

// Close drains every pool (in-flight invocations finish, bounded by ctx)
// and closes the compiled modules.
func (reg *Registry) Close(ctx context.Context) error {
	reg.mu.Lock()
	act := reg.active
	reg.active = map[string]*Deployed{}
	prep := reg.prepared
	reg.prepared = map[string]*compiled{}
	reg.mu.Unlock()
	var errs []error
	for _, d := range act {
		errs = append(errs, d.Pool.Close(ctx))
	}
	reg.retiring.Wait()
	for _, c := range prep {
		errs = append(errs, c.mod.Close(ctx))
	}
	return errors.Join(errs...)
}
