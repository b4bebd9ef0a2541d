package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// ErrStalePin: a Pinned slot made on one pool was used with another (the
// function's version changed): the caller re-pins on the new pool.
var ErrStalePin = errors.New("pinned instance belongs to another version")

// Pinned is one instance set aside from the pool for a caller that needs
// its calls to land on the same instance: durable objects keep their live
// values in the guest between events. Calls on one Pinned run one at a
// time. The instance is created by the first call (a cold start) and
// again after it broke (a trap or a timeout resets it, and with it every
// live value it held: Generation changes).
type Pinned struct {
	p  *Pool
	mu sync.Mutex // one call at a time
	// inst is guarded by mu; gen counts the instances it has had.
	inst Instance
	gen  uint64
}

// Pin returns a new, empty slot of this pool.
func (p *Pool) Pin() *Pinned { return &Pinned{p: p} }

// Generation is the number of instances the slot has had, so a caller can
// tell that the one its live values were in is gone.
func (s *Pinned) Generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// InvokePinned runs req on slot's instance. It counts in the pool's
// concurrency and admission like Invoke (ErrAtCapacity, ErrClosed), and
// the instance holds its memory from the budget while it lives. before,
// when set, runs under the slot's lock once the instance is known, with
// its generation, so the caller can prepare the request for exactly that
// instance; after, when set, runs under the lock as soon as the guest has
// returned, before the instance is judged broken and before the caller's
// bookkeeping.
func (p *Pool) InvokePinned(ctx context.Context, slot *Pinned, req *wire.Request, out wasm.Env, before func(gen uint64), after func(*wire.Response, error)) (resp *wire.Response, cold bool, err error) {
	if slot.p != p {
		return nil, false, ErrStalePin
	}
	if p.command {
		return nil, false, fmt.Errorf("%s is a command module: durable objects need a reactor (an instance that lives between events)", p.m.Name())
	}
	// The slot first: calls waiting for it are not running, and must not
	// hold the pool's concurrency while they wait.
	slot.mu.Lock()
	defer slot.mu.Unlock()
	p.mu.Lock()
	if err := p.admitLocked(); err != nil {
		p.mu.Unlock()
		return nil, false, err
	}
	p.mu.Unlock()
	defer p.release(nil)

	if slot.inst == nil {
		if !out.Deadline.IsZero() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, out.Deadline)
			defer cancel()
		}
		inst, err := p.coldStart(ctx)
		if err != nil {
			return nil, true, err
		}
		p.mu.Lock()
		p.stats.ColdStarts++
		p.mu.Unlock()
		slot.inst, cold = inst, true
		slot.gen++
	}
	if before != nil {
		before(slot.gen)
	}
	resp, err = slot.inst.Handle(ctx, req, out)
	if after != nil {
		after(resp, err)
	}
	if slot.inst.Broken() {
		p.mu.Lock()
		p.stats.Discarded++
		p.mu.Unlock()
		p.closeInstance(slot.inst)
		slot.inst = nil
	}
	return resp, cold, err
}

// Unpin closes the slot's instance, if any, returning its memory. The slot
// may be used again (a new instance, a new generation).
func (s *Pinned) Unpin() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inst != nil {
		s.p.closeInstance(s.inst)
		s.inst = nil
	}
}
