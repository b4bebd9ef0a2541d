// Package pool keeps the live instances of one function version: it reuses
// warm reactor instances (one invocation per instance at a time, most
// recently used first), bounds concurrency, keeps provisioned instances
// initialised, pre-warms ahead of rising demand and reclaims idle instances
// (scale to zero).
//
// Instances are created in three places: on the request path (a cold start,
// counted in Stats.ColdStarts), by Prewarm (the invoker pre-warms a version
// to its provisioned count before traffic moves to it), and by one
// background filler per pool that restores the provisioned count after a
// discard or a failed start, and adds idle instances while concurrency
// rises. The pool lock is never held while instantiating.
//
// It also owns the node-wide memory Budget (budget.go) that every pool's
// instances hold their memory limit from, so all instances together stay
// within the node's memory, each project within its share.
//
// It does not own deadlines, retries, metering or logs (internal/invoke),
// nor running code (internal/wasm). A Pool never queues: when every slot
// is busy it answers ErrAtCapacity at once and the caller decides (the
// gateway answers 429).
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/trace"
	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// DefaultIdleTimeout is how long an unused instance stays warm by default.
const DefaultIdleTimeout = 5 * time.Minute

var (
	// ErrAtCapacity means all MaxInstances are busy.
	ErrAtCapacity = errors.New("function at concurrency limit")
	// ErrClosed means the pool was closed (the version was replaced or
	// scaled away); re-resolve the function and retry.
	ErrClosed = errors.New("pool closed")
)

// Config configures a Pool.
type Config struct {
	MaxInstances int           // most concurrent invocations (and live instances); < 1 means 1
	IdleTimeout  time.Duration // reclaim instances idle this long; 0 means DefaultIdleTimeout
	Clock        clock.Clock   // judges idleness; nil means the wall clock
	// Provisioned instances stay initialised whatever the traffic: the
	// reaper never takes idle+busy below it, and the background filler
	// recreates instances lost to traps and timeouts. New does not create
	// them; call Prewarm(ctx, Provisioned) (the invoker does before traffic
	// moves to a version) or the next maintenance tick fills the pool.
	// Capped at MaxInstances. Commands have no instances to keep.
	Provisioned int
	// NoPrewarmAhead turns off pre-warming ahead of demand (a cold start
	// while other invocations are in flight starts instantiating a few
	// idle instances in the background). For comparisons and tests.
	NoPrewarmAhead bool
	// Logger receives background instantiation failures; nil discards.
	Logger *slog.Logger
	// WarmWait is how long an invocation that finds no idle instance waits
	// for one to be released before it instantiates a new one, once at
	// least WaitAbove invocations are already running. An instance is busy
	// only while its guest computes, so with more running invocations than
	// CPUs a release is microseconds away, while a cold start costs
	// milliseconds and another copy of the guest's memory (which evicts
	// the warm ones from the CPU caches). 0 means DefaultWarmWait; < 0
	// never waits.
	WarmWait time.Duration
	// WaitAbove is the number of running invocations from which an
	// invocation waits for a warm instance. 0 means GOMAXPROCS.
	WaitAbove int
	// Budget is the node-wide memory budget every instance of this pool
	// holds its module's memory limit from; nil means none.
	Budget *Budget
	// Project is the project the function belongs to: its pools share
	// one project's part of the Budget.
	Project string
	// Tracer records a "cold start" span, a child of the invocation's,
	// for each instance created on the request path; nil records none.
	Tracer *trace.Tracer
}

// DefaultWarmWait is the default Config.WarmWait: about half a Go guest's
// cold start from its memory snapshot.
const DefaultWarmWait = time.Millisecond

// Stats is a snapshot of a pool.
type Stats struct {
	Max         int    // most concurrent invocations (Config.MaxInstances, after defaults)
	Idle        int    // warm instances waiting
	Busy        int    // invocations in flight
	Provisioned int    // instances kept initialised at all times (Config.Provisioned, capped)
	ColdStarts  uint64 // invocations that had to instantiate on the request path (every command invocation)
	Invocations uint64 // invocations admitted
	Prewarmed   uint64 // instances created by Prewarm
	// PrewarmedAhead counts instances the background filler created ahead
	// of rising demand; Replenished those it created to restore the
	// provisioned count. Neither is a cold start: the invocations they
	// serve start warm.
	PrewarmedAhead uint64
	Replenished    uint64
	PrewarmErrors  uint64 // background instantiations that failed
	Discarded      uint64 // instances closed because they broke (trap, timeout, panic)
	WaitedWarm     uint64 // invocations that waited for a released instance instead of a cold start
	Reaped         uint64 // instances closed for idleness
	// Shed counts idle instances closed early to make room in the node's
	// memory budget for another instance.
	Shed uint64
}

// Pool holds the instances of one module. It is safe for concurrent use.
type Pool struct {
	m       Module
	cfg     Config
	command bool
	mb      int64 // memory each instance holds from cfg.Budget

	log *slog.Logger

	mu      sync.Mutex
	idle    []idleInstance  // a stack: the top is the most recently used
	waiters []chan Instance // invocations waiting for a released instance, oldest first
	busy    int
	closed  bool
	stats   Stats
	drained chan struct{} // closed once closed && busy == 0
	stop    chan struct{} // stops the reaper
	reaper  sync.WaitGroup

	// starting counts instantiations in progress off the request path
	// (Prewarm and the filler), so concurrent fillers do not overshoot.
	starting int
	// filling is true while the background filler runs (at most one per
	// pool); ahead is set by a cold start under concurrency and asks the
	// filler for idle instances beyond the provisioned count.
	filling bool
	ahead   bool
	// bgCtx is cancelled by Close so a background instantiation stops.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
}

type idleInstance struct {
	inst  Instance
	since time.Time
}

// New creates a pool for the Wasm module m and starts its idle reaper.
// Close stops it.
func New(m *wasm.Module, cfg Config) *Pool { return NewOf(Wasm{m}, cfg) }

// NewOf creates a pool for any Module and starts its idle reaper. Close
// stops it.
func NewOf(m Module, cfg Config) *Pool {
	if cfg.MaxInstances < 1 {
		cfg.MaxInstances = 1
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	cfg.Provisioned = min(max(cfg.Provisioned, 0), cfg.MaxInstances)
	if cfg.WarmWait == 0 {
		cfg.WarmWait = DefaultWarmWait
	}
	if cfg.WaitAbove <= 0 {
		cfg.WaitAbove = runtime.GOMAXPROCS(0)
	}
	if m.Kind() == record.KindCommand {
		cfg.Provisioned = 0
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pool{
		m:       m,
		cfg:     cfg,
		command: m.Kind() == record.KindCommand,
		mb:      int64(m.MemoryMB()),
		log:     log,
		drained: make(chan struct{}),
		stop:    make(chan struct{}),
	}
	p.stats.Provisioned = cfg.Provisioned
	p.stats.Max = cfg.MaxInstances
	cfg.Budget.register(p)
	p.bgCtx, p.bgCancel = context.WithCancel(context.Background())
	p.reaper.Add(1)
	go p.reapLoop(reapInterval(cfg.IdleTimeout))
	return p
}

// reapInterval checks often enough that an instance outlives its idle
// timeout by at most a quarter of it, and not more than once a second.
func reapInterval(idle time.Duration) time.Duration {
	return min(max(idle/4, time.Second), time.Minute)
}

func (p *Pool) reapLoop(every time.Duration) {
	defer p.reaper.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.Reap()
			// Restores the provisioned count after failed background
			// starts (the filler gives up on an error rather than spin).
			p.mu.Lock()
			p.startFillerLocked()
			p.mu.Unlock()
		}
	}
}

// Invoke runs req on a warm instance, or on a new one (cold is then true).
// It returns ErrAtCapacity at once when MaxInstances invocations are in
// flight, and ErrClosed after Close. An instance that breaks (timeout, trap,
// panic) is discarded, so the next invocation starts fresh.
func (p *Pool) Invoke(ctx context.Context, req *wire.Request, out wasm.Env) (resp *wire.Response, cold bool, err error) {
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return nil, false, err
	}
	var inst Instance
	if n := len(p.idle); n > 0 {
		inst = p.idle[n-1].inst
		p.idle[n-1] = idleInstance{}
		p.idle = p.idle[:n-1]
	} else if ch := p.waitWarmLocked(); ch != nil {
		p.mu.Unlock()
		inst = p.awaitWarm(ch)
		p.mu.Lock()
	}
	if inst == nil {
		p.stats.ColdStarts++
		cold = true
		// A cold start while others are in flight means concurrency is
		// rising: get a few instances ready for the requests behind this
		// one. A lone request after a quiet spell says nothing about a
		// burst, so it does not trigger this.
		if !p.cfg.NoPrewarmAhead && !p.command && p.busy >= 2 {
			p.ahead = true
			p.startFillerLocked()
		}
	}
	p.mu.Unlock()

	if (p.command || inst == nil) && !out.Deadline.IsZero() {
		// Instantiating and running a command are bounded by the
		// invocation's deadline like the call itself (a warm call needs
		// no derived context: Handle enforces out.Deadline).
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, out.Deadline)
		defer cancel()
	}
	if p.command {
		// A command instantiates for each run: it holds its memory for
		// the run's duration.
		if err = p.cfg.Budget.acquire(p, p.mb, true); err != nil {
			p.release(nil)
			return nil, true, err
		}
		resp, err = p.m.RunCommand(ctx, req, out)
		p.cfg.Budget.release(p.cfg.Project, p.mb)
		p.release(nil)
		return resp, true, err
	}
	if inst == nil {
		inst, err = p.coldStart(ctx)
		if err != nil {
			p.release(nil)
			return nil, true, err
		}
	}
	resp, err = inst.Handle(ctx, req, out)
	p.release(inst)
	return resp, cold, err
}

// admitLocked counts one more invocation in flight, or refuses it: the
// pool is closed, or MaxInstances are busy. The caller holds p.mu.
func (p *Pool) admitLocked() error {
	if p.closed {
		return ErrClosed
	}
	if p.busy >= p.cfg.MaxInstances {
		return fmt.Errorf("%s: %w (%d)", p.m.Name(), ErrAtCapacity, p.cfg.MaxInstances)
	}
	p.busy++
	p.stats.Invocations++
	return nil
}

// coldStart creates an instance for an invocation that found none warm,
// under a span of its own when tracing.
func (p *Pool) coldStart(ctx context.Context) (Instance, error) {
	if p.cfg.Tracer == nil {
		return p.instantiate(ctx, true)
	}
	ctx, span := p.cfg.Tracer.Start(ctx, SpanColdStart, oteltrace.WithAttributes(
		trace.KeyFunction.String(p.m.Function()), trace.KeyProject.String(p.cfg.Project)))
	defer span.End()
	inst, err := p.instantiate(ctx, true)
	trace.FailErr(span, err)
	return inst, err
}

// SpanColdStart names the span of a cold start.
const SpanColdStart = "cold start"

// release returns an invocation's slot and its instance (if any), closing
// the instance when it broke or the pool is closing.
// waitWarmLocked decides whether an invocation that found no idle instance
// should wait for a released one, and if so registers it as a waiter. The
// caller holds p.mu and has counted itself in p.busy.
func (p *Pool) waitWarmLocked() chan Instance {
	if p.command || p.cfg.WarmWait < 0 || p.busy-1 < p.cfg.WaitAbove {
		return nil
	}
	ch := make(chan Instance, 1)
	p.waiters = append(p.waiters, ch)
	return ch
}

// awaitWarm waits up to WarmWait for an instance handed over by release
// (or the filler); nil means none came and the caller cold-starts.
func (p *Pool) awaitWarm(ch chan Instance) Instance {
	t := time.NewTimer(p.cfg.WarmWait)
	defer t.Stop()
	select {
	case inst := <-ch:
		p.mu.Lock()
		p.stats.WaitedWarm++
		p.mu.Unlock()
		return inst
	case <-t.C:
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, w := range p.waiters {
		if w == ch {
			p.waiters = append(p.waiters[:i], p.waiters[i+1:]...)
			return nil
		}
	}
	// Handed over just as the wait ended: it is in the channel.
	p.stats.WaitedWarm++
	return <-ch
}

// putIdleLocked makes a warm instance available: to the oldest waiting
// invocation if there is one, else onto the idle stack. The caller holds
// p.mu.
func (p *Pool) putIdleLocked(inst Instance) {
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- inst // buffered: never blocks
		return
	}
	p.idle = append(p.idle, idleInstance{inst: inst, since: p.cfg.Clock.Now()})
}

func (p *Pool) release(inst Instance) {
	p.mu.Lock()
	p.busy--
	keep := inst != nil && !inst.Broken() && !p.closed
	if keep {
		p.putIdleLocked(inst)
	} else if inst != nil && inst.Broken() {
		p.stats.Discarded++
		if !p.closed {
			p.startFillerLocked() // replace it if it was one of the provisioned
		}
	}
	if p.closed && p.busy == 0 {
		p.closeDrained()
	}
	p.mu.Unlock()
	if inst != nil && !keep {
		// The invocation's context may be done (that is often why the
		// instance broke); closing must still happen.
		p.closeInstance(inst)
	}
}

// instantiate creates an instance holding its memory from the budget
// (reclaim: it may close idle instances to make room). The caller holds
// no lock.
func (p *Pool) instantiate(ctx context.Context, reclaim bool) (Instance, error) {
	if err := p.cfg.Budget.acquire(p, p.mb, reclaim); err != nil {
		return nil, err
	}
	inst, err := p.m.Instantiate(ctx)
	if err != nil {
		p.cfg.Budget.release(p.cfg.Project, p.mb)
		return nil, err
	}
	return inst, nil
}

// closeInstance closes an instance and returns its memory to the budget.
// The caller holds no lock.
func (p *Pool) closeInstance(inst Instance) {
	_ = inst.Close(context.Background())
	p.cfg.Budget.release(p.cfg.Project, p.mb)
}

// shedIdle closes this pool's least recently used idle instance when the
// pool has one beyond its provisioned count, for the memory budget, and
// reports whether it did.
func (p *Pool) shedIdle() bool {
	p.mu.Lock()
	if len(p.idle) == 0 || len(p.idle)+p.busy <= p.cfg.Provisioned {
		p.mu.Unlock()
		return false
	}
	inst := p.idle[0].inst
	p.idle = append(p.idle[:0], p.idle[1:]...)
	p.stats.Shed++
	p.mu.Unlock()
	p.closeInstance(inst)
	return true
}

// closeDrained closes p.drained once. The caller holds p.mu.
func (p *Pool) closeDrained() {
	select {
	case <-p.drained:
	default:
		close(p.drained)
	}
}

// Prewarm instantiates instances until n are idle (bounded by
// MaxInstances), so the next n invocations start warm. Commands have no
// instances to keep, so for them it does nothing.
func (p *Pool) Prewarm(ctx context.Context, n int) error {
	if p.command {
		return nil
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		if len(p.idle) >= n || p.liveLocked() >= p.cfg.MaxInstances {
			p.mu.Unlock()
			return nil
		}
		p.starting++
		p.mu.Unlock()

		inst, err := p.instantiate(ctx, true)
		p.mu.Lock()
		p.starting--
		p.mu.Unlock()
		if err != nil {
			return fmt.Errorf("prewarm %s: %w", p.m.Name(), err)
		}
		p.mu.Lock()
		// Traffic may have filled the pool while we instantiated.
		if p.closed || len(p.idle)+p.busy >= p.cfg.MaxInstances {
			closed := p.closed
			p.mu.Unlock()
			p.closeInstance(inst)
			if closed {
				return ErrClosed
			}
			return nil
		}
		p.putIdleLocked(inst)
		p.stats.Prewarmed++
		p.mu.Unlock()
	}
}

// Reap closes the instances idle for longer than IdleTimeout (by the
// pool's clock) and returns how many it closed. It never takes idle+busy
// below Provisioned: the most recently used of the expired instances stay.
func (p *Pool) Reap() int {
	p.mu.Lock()
	cutoff := p.cfg.Clock.Now().Add(-p.cfg.IdleTimeout)
	// The stack's bottom holds the least recently used instances.
	spare := len(p.idle) + p.busy - p.cfg.Provisioned
	n := 0
	for n < spare && n < len(p.idle) && p.idle[n].since.Before(cutoff) {
		n++
	}
	victims := make([]Instance, n)
	for i := range n {
		victims[i] = p.idle[i].inst
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	p.stats.Reaped += uint64(n)
	p.mu.Unlock()
	for _, inst := range victims {
		p.closeInstance(inst)
	}
	return n
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Idle = len(p.idle)
	s.Busy = p.busy
	return s
}

// Close stops admitting invocations, waits for those in flight to finish
// (so swapping versions drops nothing), and closes every instance. If ctx
// ends first it returns ctx's error; in-flight instances are then closed as
// they finish. Close does not close the Module. It is idempotent.
func (p *Pool) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.stop)
		p.bgCancel()
	}
	idle := p.idle
	p.idle = nil
	if p.busy == 0 {
		p.closeDrained()
	}
	p.mu.Unlock()

	p.reaper.Wait()
	// The filler sees closed (and its cancelled context) and closes what
	// it was starting.
	p.bg.Wait()
	for _, it := range idle {
		p.closeInstance(it.inst)
	}
	p.cfg.Budget.unregister(p)
	select {
	case <-p.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close pool %s: waiting for in-flight invocations: %w", p.m.Name(), ctx.Err())
	}
}
