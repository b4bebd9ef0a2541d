package wasm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/stratahq/strata/internal/trace"
)

// HostModule is the name of the host module guests import the ABI from.
const HostModule = "strata_v1"

const (
	// DefaultMaxResponseBytes matches the synchronous payload limit of AWS
	// Lambda (6 MB), so functions ported from there keep working.
	DefaultMaxResponseBytes = 6 << 20
	// DefaultMemoryMB is used when a ModuleSpec leaves MemoryMB at 0.
	DefaultMemoryMB = 128
	// maxMemoryMB is the most a 32-bit linear memory can address.
	maxMemoryMB = 4096
	pagesPerMB  = 16 // 64 KiB WebAssembly pages
)

// Config configures a Runtime. The zero value is usable.
type Config struct {
	// CacheDir holds wazero's compilation cache so that a restarted node
	// does not compile again; "" keeps compiled code in memory only.
	CacheDir string
	// MaxResponseBytes caps a response body; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int
	// Logger receives compile events and guest output written outside an
	// invocation (e.g. during package init). nil discards.
	Logger *slog.Logger
	// NoInstrument runs every module with wazero's WithCloseOnContextDone
	// instead of rewriting it with interrupt checks (internal/instrument).
	// Guest code then runs several times slower; it exists to compare the
	// two and as an escape hatch.
	NoInstrument bool
	// NoSnapshot makes every reactor cold start run the module's data
	// segments and _initialize, instead of restoring a memory snapshot
	// taken at Compile (see docs/ABI.md, "Cold starts").
	NoSnapshot bool
	// Events receives the events guests send to queues and topics
	// (strata_v1.event_send); nil makes those calls fail with ErrNoEvents.
	Events EventSink
	// Bindings serves the guests' SQL, KV, fetch and secret calls
	// (strata_v1.binding_call); nil makes those calls fail with
	// ErrNoBindings.
	Bindings Bindings
	// Flow serves workflow calls (binding_call op 5): orchestrator
	// commands, activity heartbeats, starting and signalling workflows.
	// Nil: guests get ErrNoFlow.
	Flow Flow
	// Objects serves durable object calls (binding_call op 6): storage,
	// alarms and WebSockets of the object an invocation runs for, stubs
	// and WebSocket connections for any invocation (internal/objects).
	Objects Objects
	// Tracer records a span for each host call (SQL, KV, fetch, secret,
	// queue send, topic publish) as a child of the invocation's span;
	// nil records none.
	Tracer *trace.Tracer

	// CompileBudget bounds compiling one module (and waiting for a compile
	// slot); a module over it is refused with ErrOverBudget. 0 means
	// DefaultCompileBudget.
	CompileBudget time.Duration
	// InitTimeout bounds _initialize when Compile runs it for a reactor's
	// snapshot; a module whose _initialize does not return in time is
	// refused with ErrOverBudget. 0 means DefaultInitTimeout.
	InitTimeout time.Duration
	// MaxCompiles caps wazero compiles running at once, including ones
	// abandoned over the budget that run on until wazero finishes. 0
	// means GOMAXPROCS.
	MaxCompiles int
	// MaxFunctionBranches refuses, before compiling, a module with a
	// function of more control instructions than this (see
	// DefaultMaxFunctionBranches). 0 means the default; -1 turns the check
	// off.
	MaxFunctionBranches int

	// unchecked runs modules with no deadline enforcement at all; only
	// benchmarks use it, to measure what the checks cost.
	unchecked bool
	// copySnapshot copies a snapshot into each instance's memory instead
	// of mapping the module's copy-on-write image; only benchmarks and
	// tests use it, to compare the two.
	copySnapshot bool
}

// Runtime compiles and runs modules. It is safe for concurrent use.
//
// wazero enforces the memory limit per wazero.Runtime, so Runtime keeps one
// wazero.Runtime per distinct MemoryMB and interrupt mechanism (see
// engineKey); all of them share one compilation cache, so compiled code is
// shared between them too.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	cache wazero.CompilationCache

	// compileSlots holds a token per wazero compile running (MaxCompiles).
	compileSlots chan struct{}
	compiling    sync.WaitGroup // compile goroutines, abandoned ones included
	inflight     int            // compile goroutines running; guarded by mu

	mu      sync.Mutex
	engines map[engineKey]*engine
	modules map[moduleKey]*compiled
	refused map[moduleKey]refusal // recent over-budget refusals
	closed  bool
}

// engineKey picks a wazero runtime. Modules rewritten by
// internal/instrument stop at the deadline through their own interrupt
// global and run in a runtime without WithCloseOnContextDone (guarded
// false); modules the rewriter cannot handle run in one with it.
type engineKey struct {
	memoryMB int
	guarded  bool
}

// engine is one wazero.Runtime with the host modules instantiated in it.
type engine struct {
	memoryMB int
	guarded  bool
	rt       wazero.Runtime
	// hostFuncs are the functions each host module exports, with their
	// signatures, for validating a module's imports at compile time.
	hostFuncs map[string]map[string]api.FunctionDefinition
}

// New creates a Runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.CompileBudget <= 0 {
		cfg.CompileBudget = DefaultCompileBudget
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.MaxCompiles <= 0 {
		cfg.MaxCompiles = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxFunctionBranches == 0 {
		cfg.MaxFunctionBranches = DefaultMaxFunctionBranches
	}
	cfg.Bindings = Traced(cfg.Bindings, cfg.Tracer)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var cache wazero.CompilationCache
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("open compilation cache %s: %w", cfg.CacheDir, err)
		}
		cache = c
	} else {
		cache = wazero.NewCompilationCache()
	}
	return &Runtime{
		cfg:          cfg,
		log:          log,
		cache:        cache,
		compileSlots: make(chan struct{}, cfg.MaxCompiles),
		engines:      map[engineKey]*engine{},
		modules:      map[moduleKey]*compiled{},
		refused:      map[moduleKey]refusal{},
	}, nil
}

// Close closes every wazero runtime, and with them every module and
// instance, then the compilation cache (the on-disk part stays). Compiles
// abandoned over the budget cannot be stopped, and wazero must not see its
// runtime closed under a compile; when some still run, Close returns at
// once and the runtimes are closed when the last of them ends.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	engines := r.engines
	r.engines = map[engineKey]*engine{}
	r.modules = map[moduleKey]*compiled{}
	inflight := r.inflight
	r.mu.Unlock()

	closeAll := func(ctx context.Context) error {
		var errs []error
		for _, e := range engines {
			if err := e.rt.Close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("close runtime for %d MB (guarded %t): %w", e.memoryMB, e.guarded, err))
			}
		}
		if err := r.cache.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close compilation cache: %w", err))
		}
		return errors.Join(errs...)
	}
	if inflight == 0 {
		return closeAll(ctx)
	}
	r.log.WarnContext(ctx, "runtime closes when the compiles still running end", "compiles", inflight)
	go func() {
		r.compiling.Wait()
		if err := closeAll(context.WithoutCancel(ctx)); err != nil {
			r.log.Warn("close runtime", "err", err)
		}
	}()
	return nil
}

// engineFor returns the wazero runtime for key, creating it on first use.
// The caller holds r.mu.
func (r *Runtime) engineFor(ctx context.Context, key engineKey) (*engine, error) {
	if e, ok := r.engines[key]; ok {
		return e, nil
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithCompilationCache(r.cache).
		// Guarded: compiled code calls a check trampoline at function
		// entries and loop headers, so a guest that loops forever stops at
		// the deadline. Costly (an indirect call per loop iteration), so
		// only for modules internal/instrument cannot rewrite.
		WithCloseOnContextDone(key.guarded && !r.cfg.unchecked).
		WithMemoryLimitPages(uint32(key.memoryMB * pagesPerMB))
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	e := &engine{memoryMB: key.memoryMB, guarded: key.guarded, rt: rt, hostFuncs: map[string]map[string]api.FunctionDefinition{}}

	wasi, err := wasi_snapshot_preview1.NewBuilder(rt).Compile(ctx)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("compile WASI host module: %w", err)
	}
	if _, err := rt.InstantiateModule(ctx, wasi, wazero.NewModuleConfig()); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate WASI host module: %w", err)
	}
	e.hostFuncs[wasi_snapshot_preview1.ModuleName] = wasi.ExportedFunctions()

	host, err := r.hostModule(rt).Compile(ctx)
	if err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("compile %s host module: %w", HostModule, err)
	}
	if _, err := rt.InstantiateModule(ctx, host, wazero.NewModuleConfig()); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("instantiate %s host module: %w", HostModule, err)
	}
	e.hostFuncs[HostModule] = host.ExportedFunctions()

	r.engines[key] = e
	return e, nil
}

// hostModule defines strata_v1 (docs/ABI.md). The functions find the
// invocation they serve through the call's context, which Handle sets.
func (r *Runtime) hostModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	i32 := api.ValueTypeI32
	b := rt.NewHostModuleBuilder(HostModule)
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(requestRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").
		Export("request_read")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(responseWrite), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").
		Export("response_write")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(eventSend), []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("kind", "name_ptr", "name_len", "body_ptr", "body_len", "opts_ptr", "opts_len").
		Export("event_send")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(bindingCall), []api.ValueType{i32, i32, i32}, []api.ValueType{i32}).
		WithParameterNames("op", "req_ptr", "req_len").
		Export("binding_call")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(resultLen), nil, []api.ValueType{i32}).
		Export("result_len")
	b.NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(resultRead), []api.ValueType{i32, i32}, []api.ValueType{i32}).
		WithParameterNames("ptr", "len").
		Export("result_read")
	return b
}
