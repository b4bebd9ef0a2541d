package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/stratahq/strata/internal/instrument"
)

// Module kinds. They equal record.KindReactor and record.KindCommand; they are
// repeated here so the runtime does not depend on the store.
const (
	KindReactor = "reactor" // Go SDK: exports strata_handle, instance reused
	KindCommand = "command" // WASI _start, CGI style, fresh instance per request
)

// ModuleSpec says how to compile and run one function version.
type ModuleSpec struct {
	Name     string            // "fn@3"; names the module in errors and logs
	Function string            // the function, e.g. "fn": events its instances send come from it; "" derives it from Name
	Kind     string            // KindReactor, KindCommand, or "" to detect from exports
	MemoryMB int               // linear memory limit; 0 means DefaultMemoryMB
	Env      map[string]string // the function's environment
}

// Module is a compiled, validated function version. Instantiate (reactor)
// or RunCommand (command) run it. It is safe for concurrent use.
type Module struct {
	r        *Runtime
	eng      *engine
	entry    *compiled
	key      moduleKey
	name     string
	function string
	kind     string
	memoryMB int
	env      [][2]string // sorted, so instances see a stable environment
	// base is the module configuration shared by every instance; wazero's
	// ModuleConfig is immutable, so sharing it is safe.
	base wazero.ModuleConfig
	// snap, when set, is the memory and globals of an instance right after
	// _initialize; Instantiate restores it into an instance of the lean
	// code (entry.lean) instead of running the data segments and
	// _initialize. img, when set (Linux), holds the snapshot's memory:
	// each instance maps it copy-on-write instead of copying it. Without
	// it, alloc sizes the memory of such an instance for the snapshot at
	// once (nil: wazero's default).
	snap  *snapshot
	img   *memImage
	alloc experimental.MemoryAllocator
	// compileTime is how long Compile spent compiling (0 when the code was
	// shared with a module compiled before); initTime how long the init at
	// Compile took (initAtDeploy).
	compileTime, initTime time.Duration

	closeOnce sync.Once
}

// moduleKey identifies compiled code: the same bytes under the same memory
// limit compile to the same thing, whichever function version they belong to.
type moduleKey struct {
	hash     [sha256.Size]byte
	memoryMB int
	// lean asks for the data-stripped variant when the module qualifies
	// for a snapshot (see compiled.lean); a command never gets it.
	lean bool
}

// compiled is code shared by every Module with the same key. wazero keeps
// compiled code per module hash in an engine shared by all our runtimes, so
// closing one CompiledModule would pull the code out from under another
// version with identical bytes; hence the reference count.
type compiled struct {
	ready chan struct{} // closed when cm or err is set
	cm    wazero.CompiledModule
	eng   *engine // the runtime cm was compiled in
	// interrupt is true when cm was rewritten by internal/instrument: it
	// exports instrument.InterruptExport and eng is not guarded.
	interrupt bool
	// info is what the rewriter found (set when interrupt is); for a lean
	// entry its Active segments are the data the snapshot writes by hand.
	info *instrument.Info
	// lean is true when cm is the module with its data segments stripped
	// (instrument.Options.StripData), compiled instead of the original:
	// a reactor that qualifies for a snapshot is compiled once, in this
	// form, and its snapshot taken by writing the data segments itself
	// (snapshot.go). noSnapshot says why a module did not qualify.
	lean       bool
	noSnapshot string
	took       time.Duration // the compile, for progress reports
	err        error
	refs       int // guarded by Runtime.mu
}

// engineError is a failure to set up a wazero runtime, as opposed to a
// module wazero rejects.
type engineError struct{ err error }

func (e engineError) Error() string { return e.err.Error() }

// compile fills entry: it rewrites wasm with interrupt checks when it can
// (falling back to a guarded runtime when it cannot) and compiles it.
func (r *Runtime) compile(ctx context.Context, entry *compiled, wasm []byte, name string, key moduleKey) error {
	start := time.Now()
	memoryMB := key.memoryMB
	code := wasm
	guarded := true
	entry.noSnapshot = "module not instrumented"
	if !r.cfg.NoInstrument && !r.cfg.unchecked {
		// Exported globals let Compile snapshot an initialised instance.
		// A module that may be snapshotted is rewritten straight into its
		// lean form (one pass over a 5 MB module, not two); when it turns
		// out not to qualify, it is rewritten again in full.
		opts := instrument.Options{Interrupt: true, ExportGlobals: true}
		out, info, err := instrument.Rewrite(wasm, instrument.Options{Interrupt: true, ExportGlobals: true, StripData: key.lean})
		lean := key.lean && err == nil
		switch {
		case lean:
			if why := snapshotMisfit(info); why != "" {
				entry.noSnapshot, lean = why, false
			}
		case key.lean:
			entry.noSnapshot = "lean rewrite: " + err.Error()
		}
		if key.lean && !lean {
			out, info, err = instrument.Rewrite(wasm, opts)
		}
		if err := r.checkShape(wasm, info, err); err != nil {
			return err
		}
		switch {
		case err != nil:
			// Malformed modules land here too; wazero names the problem
			// better when it compiles the original below.
			r.log.InfoContext(ctx, "module not instrumented; deadline enforced by wazero's slower checks",
				"module", name, "reason", err.Error())
		case info.HasStart:
			// A start function runs inside InstantiateModule, before the
			// host could reach the interrupt global.
			r.log.InfoContext(ctx, "module not instrumented; deadline enforced by wazero's slower checks",
				"module", name, "reason", "module has a start function")
		default:
			code, guarded = out, false
			entry.info, entry.lean = info, lean
			if !key.lean {
				entry.noSnapshot = "snapshots off or a command"
			} else if lean {
				entry.noSnapshot = ""
			}
		}
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return engineError{errors.New("runtime closed")}
	}
	eng, err := r.engineFor(ctx, engineKey{memoryMB: memoryMB, guarded: guarded})
	r.mu.Unlock()
	if err != nil {
		return engineError{err}
	}
	cm, err := r.compileBounded(ctx, eng, code, name)
	if err != nil {
		return err
	}
	entry.cm, entry.eng, entry.interrupt = cm, eng, !guarded
	entry.took = time.Since(start)
	r.log.InfoContext(ctx, "module compiled", "module", name, "bytes", len(wasm),
		"instrumented", !guarded, "lean", entry.lean, "duration", time.Since(start))
	return nil
}

// checkShape refuses, before wazero spends minutes on it, a module with a
// function of more control instructions than Config.MaxFunctionBranches
// (see DefaultMaxFunctionBranches). info and rewriteErr are what the
// interrupt rewrite found; when it could not instrument the module (no
// memory, a start function is fine) the code is walked again without
// rewriting. Modules whose code internal/instrument cannot read at all
// (SIMD, threads, ...) are bounded by the compile budget alone.
func (r *Runtime) checkShape(wasm []byte, info *instrument.Info, rewriteErr error) error {
	limit := r.cfg.MaxFunctionBranches
	if limit <= 0 {
		return nil
	}
	if rewriteErr != nil {
		var err error
		if _, info, err = instrument.Rewrite(wasm, instrument.Options{}); err != nil {
			return nil
		}
	}
	if info.MaxFunctionBranches <= limit {
		return nil
	}
	return &overBudget{msg: fmt.Sprintf("function %d has %d control instructions (block, loop, if, br, br_if, br_table), "+
		"over the limit of %d that keeps compilation within its budget; split the function",
		info.MaxBranchesFunc, info.MaxFunctionBranches, limit)}
}

var wasmMagic = []byte{0x00, 'a', 's', 'm'}

// Compile compiles and validates wasm. Every validation failure wraps
// ErrInvalidModule and names what is wrong.
func (r *Runtime) Compile(ctx context.Context, wasm []byte, spec ModuleSpec) (*Module, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("compile module %s: %s: %w", spec.Name, fmt.Sprintf(format, args...), ErrInvalidModule)
	}
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil, fail("not a WebAssembly module (it does not start with \\0asm)")
	}
	switch spec.Kind {
	case "", KindReactor, KindCommand:
	default:
		return nil, fail("unknown kind %q (want %q or %q)", spec.Kind, KindReactor, KindCommand)
	}
	memoryMB := spec.MemoryMB
	if memoryMB == 0 {
		memoryMB = DefaultMemoryMB
	}
	if memoryMB < 1 || memoryMB > maxMemoryMB {
		return nil, fail("memory %d MB out of range 1..%d", memoryMB, maxMemoryMB)
	}

	for k, v := range spec.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fail("environment variable %q: names must be non-empty without '=' or NUL, values without NUL", k)
		}
	}

	// A reactor (or a module that may turn out to be one) is compiled in
	// its lean form when it qualifies for a snapshot; a command never is.
	wantLean := spec.Kind != KindCommand && !r.cfg.NoSnapshot
	key := moduleKey{hash: sha256.Sum256(wasm), memoryMB: memoryMB, lean: wantLean}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("compile module %s: runtime closed", spec.Name)
	}
	if err := r.refusedLocked(key); err != nil {
		r.mu.Unlock()
		return nil, fmt.Errorf("compile module %s: %w (refused recently; not compiled again)", spec.Name, err)
	}
	entry, found := r.modules[key]
	if !found {
		entry = &compiled{ready: make(chan struct{})}
		r.modules[key] = entry
	}
	entry.refs++
	r.mu.Unlock()

	if !found {
		entry.err = r.compile(ctx, entry, wasm, spec.Name, key)
		if entry.err != nil {
			if errors.Is(entry.err, ErrOverBudget) {
				r.refuse(key, entry.err)
			}
			// A failed entry is not shared with later callers: one whose
			// context is live must not get this caller's cancellation.
			r.mu.Lock()
			if r.modules[key] == entry {
				delete(r.modules, key)
			}
			r.mu.Unlock()
		}
		close(entry.ready)
	} else {
		select {
		case <-entry.ready:
		case <-ctx.Done():
			r.release(ctx, key, entry)
			return nil, fmt.Errorf("compile module %s: %w", spec.Name, ctx.Err())
		}
		if entry.err != nil && ctx.Err() == nil &&
			(errors.Is(entry.err, context.Canceled) || errors.Is(entry.err, context.DeadlineExceeded)) {
			// The caller that compiled gave up; compile for this one.
			r.release(ctx, key, entry)
			return r.Compile(ctx, wasm, spec)
		}
	}
	if entry.err != nil {
		r.release(ctx, key, entry)
		var ee engineError
		switch {
		case errors.As(entry.err, &ee):
			return nil, fmt.Errorf("compile module %s: %w", spec.Name, ee.err)
		case errors.Is(entry.err, ErrOverBudget), errors.Is(entry.err, ErrCompileBusy),
			errors.Is(entry.err, context.Canceled), errors.Is(entry.err, context.DeadlineExceeded):
			return nil, fmt.Errorf("compile module %s: %w", spec.Name, entry.err)
		}
		return nil, fail("%v", entry.err)
	}
	eng := entry.eng

	kind, err := validate(entry.cm, eng, spec.Kind)
	if err != nil {
		r.release(ctx, key, entry)
		return nil, fail("%v", err)
	}

	m := &Module{r: r, eng: eng, entry: entry, key: key, name: spec.Name, function: spec.Function, kind: kind, memoryMB: memoryMB}
	if !found {
		m.compileTime = entry.took
	}
	if m.function == "" {
		m.function = functionOf(spec.Name)
	}
	for k, v := range spec.Env {
		m.env = append(m.env, [2]string{k, v})
	}
	slices.SortFunc(m.env, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	m.base = wazero.NewModuleConfig().
		WithName(""). // anonymous, so one compiled module can have many instances
		WithArgs(spec.Name).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		// wazero's default random source is deterministic; guests need real
		// randomness for ids and crypto.
		WithRandSource(rand.Reader)
	if err := m.initAtDeploy(ctx); err != nil {
		_ = m.Close(ctx)
		if errors.Is(err, ErrOverBudget) {
			r.refuse(key, err)
		}
		if ie := (*InitError)(nil); errors.As(err, &ie) {
			return nil, ie // the guest's own words, not a compile problem
		}
		return nil, fmt.Errorf("compile module %s: %w", spec.Name, err)
	}
	return m, nil
}

// initAtDeploy runs one instance of m through its start before Compile
// accepts it, so a version whose init panics, traps, runs out of memory
// or does not return within Config.InitTimeout is never deployed: a
// reactor's _initialize runs (taking the snapshot when the module is
// lean), a command is instantiated without running _start (which is its
// request). Failures are *InitError, or ErrOverBudget for the timeout.
func (m *Module) initAtDeploy(ctx context.Context) error {
	start := time.Now()
	switch {
	case m.entry.lean && m.kind == KindReactor:
		return m.prepareSnapshot(ctx)
	case m.entry.lean:
		return fmt.Errorf("lean code compiled for a %s module", m.kind)
	}
	ictx, cancel := context.WithTimeout(ctx, m.r.cfg.InitTimeout)
	defer cancel()
	if m.kind == KindReactor {
		if m.entry.noSnapshot != "" {
			m.r.log.InfoContext(ctx, "cold starts run _initialize (no snapshot)", "module", m.name, "reason", m.entry.noSnapshot)
		}
		inst, err := m.instantiate(ictx)
		if err != nil {
			if ctx.Err() == nil && errors.Is(ictx.Err(), context.DeadlineExceeded) {
				return m.initTimeout()
			}
			return err
		}
		m.initTime = time.Since(start)
		return inst.Close(ctx)
	}
	mod, err := m.eng.rt.InstantiateModule(withLinearMemory(ictx), m.entry.cm, m.withEnv(m.base).WithStartFunctions())
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &InitError{Module: m.name, Reason: "instantiate: " + firstLine(err.Error())}
	}
	m.initTime = time.Since(start)
	return mod.Close(ctx)
}

// initTimeout is the refusal of a module whose _initialize did not return
// within Config.InitTimeout.
func (m *Module) initTimeout() error {
	return &overBudget{msg: fmt.Sprintf("_initialize did not return within the %v init timeout "+
		"(package init or the Go runtime's start loops or blocks); every cold start would hang the same way",
		m.r.cfg.InitTimeout)}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// release drops one reference to compiled code, closing it with the last.
func (r *Runtime) release(ctx context.Context, key moduleKey, entry *compiled) {
	r.mu.Lock()
	entry.refs--
	last := entry.refs == 0
	if last && r.modules[key] == entry {
		delete(r.modules, key)
	}
	r.mu.Unlock()
	if last && entry.cm != nil {
		_ = entry.cm.Close(ctx)
	}
}

// validate checks the module against the ABI and returns its kind.
func validate(cm wazero.CompiledModule, eng *engine, kind string) (string, error) {
	var problems []string
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		funcs, ok := eng.hostFuncs[mod]
		if !ok {
			problems = append(problems, fmt.Sprintf("imports %s.%s from unknown host module %q (available: %s, %s)",
				mod, name, mod, HostModule, "wasi_snapshot_preview1"))
			continue
		}
		host, ok := funcs[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("imports unknown function %s.%s", mod, name))
			continue
		}
		if !slices.Equal(def.ParamTypes(), host.ParamTypes()) || !slices.Equal(def.ResultTypes(), host.ResultTypes()) {
			problems = append(problems, fmt.Sprintf("imports %s.%s with signature %s, want %s",
				mod, name, signature(def), signature(host)))
		}
	}
	for _, mem := range cm.ImportedMemories() {
		mod, name, _ := mem.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s; a module must define its own memory", mod, name))
	}
	// An initial memory above the limit never gets here: wazero rejects it
	// while decoding ("min N pages over limit of M pages").

	exports := cm.ExportedFunctions()
	hasHandle, hasInit, hasStart := exports["strata_handle"] != nil, exports["_initialize"] != nil, exports["_start"] != nil
	if kind == "" {
		switch {
		case hasHandle:
			kind = KindReactor
		case hasStart:
			kind = KindCommand
		default:
			problems = append(problems, "exports neither strata_handle (a reactor built with the Go SDK) nor _start (a WASI command)")
		}
	}
	switch kind {
	case KindReactor:
		if !hasHandle {
			problems = append(problems, "reactor does not export strata_handle (build with the Go SDK and -buildmode=c-shared)")
		} else if h := exports["strata_handle"]; !slices.Equal(h.ParamTypes(), []api.ValueType{api.ValueTypeI32}) ||
			!slices.Equal(h.ResultTypes(), []api.ValueType{api.ValueTypeI32}) {
			problems = append(problems, fmt.Sprintf("strata_handle has signature %s, want (i32) -> i32", signature(h)))
		}
		if !hasInit {
			problems = append(problems, "reactor does not export _initialize (build with -buildmode=c-shared)")
		}
	case KindCommand:
		if !hasStart {
			problems = append(problems, "command does not export _start")
		}
	}
	if len(problems) > 0 {
		return "", fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return kind, nil
}

func signature(def api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("(%s) -> (%s)", names(def.ParamTypes()), names(def.ResultTypes()))
}

// Name returns the name given in the ModuleSpec.
func (m *Module) Name() string { return m.name }

// Function returns the function the module runs as (ModuleSpec.Function).
func (m *Module) Function() string { return m.function }

// Kind returns KindReactor or KindCommand.
func (m *Module) Kind() string { return m.kind }

// CompileTime is how long Compile spent compiling the module's code, 0
// when the code was shared with a module compiled earlier.
func (m *Module) CompileTime() time.Duration { return m.compileTime }

// InitTime is how long Compile spent initialising one instance (taking the
// snapshot, for a snapshotted reactor).
func (m *Module) InitTime() time.Duration { return m.initTime }

// Snapshotted reports whether cold starts restore a snapshot.
func (m *Module) Snapshotted() bool { return m.snap != nil }

// MemoryMB returns the module's memory limit.
func (m *Module) MemoryMB() int { return m.memoryMB }

// Close releases the compiled code once no other Module shares it.
// Instances already created keep working until closed.
func (m *Module) Close(ctx context.Context) error {
	m.closeOnce.Do(func() {
		m.img.Close()
		m.r.release(ctx, m.key, m.entry)
	})
	return nil
}

// withEnv adds the function's environment to cfg.
func (m *Module) withEnv(cfg wazero.ModuleConfig) wazero.ModuleConfig {
	for _, kv := range m.env {
		cfg = cfg.WithEnv(kv[0], kv[1])
	}
	return cfg
}
