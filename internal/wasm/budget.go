package wasm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
)

const (
	// DefaultCompileBudget bounds compiling one module. It is measured in
	// wall time, so it must leave room for a busy node: the examples' Go
	// modules (5–6 MB) compile in 3–14 s on a busy two-core machine, and
	// took 75 s there while several test binaries compiled at once. Known
	// compile bombs are refused by their shape before this applies
	// (DefaultMaxFunctionBranches). See docs/RATIONALE.md, "Compile budget".
	DefaultCompileBudget = 2 * time.Minute
	// DefaultInitTimeout bounds _initialize when Compile runs it to take a
	// snapshot. Go's runtime and package init take tens of milliseconds on
	// a quiet machine, but the hello example's took 1.8 s on a busy one;
	// 30 s is the bound snapshots had before they refused modules, so no
	// module that deployed before is refused now.
	DefaultInitTimeout = 30 * time.Second
	// DefaultMaxFunctionBranches is the most control instructions (block,
	// loop, if, br, br_if, br_table) one function body may have. wazero's
	// optimising compiler takes time that grows much faster than linearly
	// with them, with a cliff: one function of 10,000 loops each with a
	// br_if (20,000 control instructions) compiles in 5 s, 12,000 loops in
	// 78 s, 16,000 in over 2 minutes. The largest function in the
	// examples' Go modules has 1,286, in a C command 632.
	DefaultMaxFunctionBranches = 10000
	// refusedFor is how long a module refused for its compile time or for
	// an _initialize that did not return stays refused on this node
	// without being tried again (its abandoned compile may still be
	// running; a server start must not pay the budget twice).
	refusedFor = 10 * time.Minute
	// maxRefused caps the remembered refusals.
	maxRefused = 1024
)

// ErrCompileBusy means no compile slot came free within the compile budget:
// the node is compiling other modules (possibly ones abandoned over the
// budget, which run on until wazero finishes). The module itself may be
// fine; trying again later may succeed.
var ErrCompileBusy = errors.New("compiler busy")

// ErrOverBudget wraps a refusal because compiling a module, or its
// _initialize at deploy, did not finish in time. It also wraps
// ErrInvalidModule, so callers answer it as a bad module.
var ErrOverBudget = errors.New("over budget")

// overBudget is an error that is both ErrOverBudget and ErrInvalidModule.
// For a compile abandoned over the budget, running is closed when that
// compile ends.
type overBudget struct {
	msg     string
	running <-chan struct{}
}

func (e *overBudget) Error() string { return e.msg }
func (e *overBudget) Is(target error) bool {
	return target == ErrOverBudget || target == ErrInvalidModule
}

// compileJob is one wazero compile running on its own goroutine. A caller
// that stops waiting (budget passed, request cancelled) marks it abandoned;
// the goroutine then closes the code it produces.
type compileJob struct {
	done     chan struct{} // closed when cm and err are set, unless abandoned
	finished chan struct{} // closed when the compile ends, abandoned or not

	mu        sync.Mutex
	abandoned bool
	cm        wazero.CompiledModule
	err       error
}

// compileBounded compiles code in eng within the compile budget and while
// ctx is live. wazero 1.12 looks at ctx only between functions (and not at
// all with one compilation worker, its default), so a single huge function
// cannot be cancelled: the compile runs on a goroutine the caller stops
// waiting for. That goroutine keeps a core busy until wazero finishes, so
// it holds one of Config.MaxCompiles slots until then: abandoned compiles
// cannot pile up beyond that, and a deploy waiting for a slot is bounded
// by the same budget.
func (r *Runtime) compileBounded(ctx context.Context, eng *engine, code []byte, name string) (wazero.CompiledModule, error) {
	budget := r.cfg.CompileBudget
	timer := time.NewTimer(budget)
	defer timer.Stop()
	select {
	case r.compileSlots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for a compile slot: %w", context.Cause(ctx))
	case <-timer.C:
		return nil, fmt.Errorf("no compile slot came free within %v (%d compiles running, "+
			"possibly of modules refused for their compile time); try again later: %w",
			budget, cap(r.compileSlots), ErrCompileBusy)
	}
	// The budget is the compile's own: waiting for a slot is not counted.
	timer.Reset(budget)
	start := time.Now()
	r.log.DebugContext(ctx, "compiling module", "module", name, "bytes", len(code), "budget", budget)
	job := &compileJob{done: make(chan struct{}), finished: make(chan struct{})}
	// The compile outlives a caller that stops waiting; it must not be
	// cut short halfway by that caller's context (wazero would not stop
	// anyway), and it is owned by the slot it holds.
	cctx := context.WithoutCancel(ctx)
	// wazero compiles a module's functions on this many goroutines: one
	// large Go module then uses every core instead of one.
	cctx = experimental.WithCompilationWorkers(cctx, runtime.GOMAXPROCS(0))
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		<-r.compileSlots
		return nil, engineError{errors.New("runtime closed")}
	}
	r.inflight++
	r.compiling.Add(1)
	r.mu.Unlock()
	go func() {
		defer func() {
			close(job.finished)
			r.mu.Lock()
			r.inflight--
			r.mu.Unlock()
			r.compiling.Done()
		}()
		cm, err := eng.rt.CompileModule(cctx, code)
		<-r.compileSlots
		job.mu.Lock()
		defer job.mu.Unlock()
		if job.abandoned {
			if cm != nil {
				_ = cm.Close(cctx)
			}
			r.log.Warn("abandoned compile finished", "module", name, "duration", time.Since(start), "err", err)
			return
		}
		job.cm, job.err = cm, err
		close(job.done)
	}()
	var stop error
	select {
	case <-job.done:
		return job.cm, job.err
	case <-ctx.Done():
		stop = fmt.Errorf("compilation stopped: %w", context.Cause(ctx))
	case <-timer.C:
		stop = &overBudget{msg: fmt.Sprintf("compilation exceeded the %v compile budget; "+
			"split very large functions (or raise the node's --compile-budget)", budget), running: job.finished}
	}
	job.mu.Lock()
	defer job.mu.Unlock()
	select {
	case <-job.done: // finished as we gave up: use it
		return job.cm, job.err
	default:
	}
	job.abandoned = true
	r.log.Warn("compile abandoned; it runs on until wazero finishes, holding a compile slot",
		"module", name, "waited", time.Since(start), "reason", stop.Error())
	return nil, stop
}

// refusal is a remembered over-budget refusal.
type refusal struct {
	err     error
	at      time.Time
	running <-chan struct{} // the abandoned compile, if any
}

// refusedLocked returns the remembered refusal of key, if still valid: a
// compile refused over the budget stays refused while its abandoned
// compile runs (trying again would only start a second one); once that
// ends, its code is in the compilation cache and a new attempt is cheap.
// An _initialize that did not return stays refused for refusedFor. The
// caller holds r.mu.
func (r *Runtime) refusedLocked(key moduleKey) error {
	f, ok := r.refused[key]
	if !ok {
		return nil
	}
	expired := time.Since(f.at) > refusedFor
	if f.running != nil {
		select {
		case <-f.running:
			expired = true
		default:
		}
	}
	if expired {
		delete(r.refused, key)
		return nil
	}
	return f.err
}

// refuse remembers that key was refused for err.
func (r *Runtime) refuse(key moduleKey, err error) {
	var ob *overBudget
	if !errors.As(err, &ob) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.refused) >= maxRefused {
		for k := range r.refused { // drop any one: a bound, not a cache policy
			delete(r.refused, k)
			break
		}
	}
	r.refused[key] = refusal{err: err, at: time.Now(), running: ob.running}
}
