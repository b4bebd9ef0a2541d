package wasm

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// States of a callContext.
const (
	callRunning  int32 = iota
	callTimedOut       // the invocation's deadline passed
	callCanceled       // the caller's context ended
	callFinished       // Handle returned
	callCPULimit       // the call used up its CPU time (cpuMeter)
)

// closedChan is the Done channel of a context that ended before anyone
// asked for its channel.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// callContext is the context of one Handle: the caller's context bounded
// by the invocation's deadline, carrying the instance to the host
// functions (invocationKey). It replaces a context.WithDeadline and a
// context.WithValue per call: the deadline is enforced by the instance's
// own timer, reset for each call, so a warm call allocates no timer, and
// the Done channel is made only when something asks for it (a host call
// doing I/O, a sleeping guest). It ends, closing Done, when the deadline
// passes, when the caller's context ends, or when Handle returns, so a
// context a host call kept is done once the invocation is.
type callContext struct {
	parent      context.Context
	inst        *Instance
	deadline    time.Time
	hasDeadline bool
	state       atomic.Int32

	mu   sync.Mutex
	done chan struct{}
}

var _ context.Context = (*callContext)(nil)

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, c.hasDeadline }

func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.state.Load() != callRunning {
			return closedChan
		}
		c.done = make(chan struct{})
	}
	return c.done
}

func (c *callContext) Err() error {
	switch c.state.Load() {
	case callTimedOut:
		return context.DeadlineExceeded
	case callCanceled:
		if err := c.parent.Err(); err != nil {
			return err
		}
		return context.Canceled
	case callFinished, callCPULimit:
		// A call stopped for its CPU time is reported by Handle
		// (*CPULimitError); what host calls see is that it ended.
		return context.Canceled
	}
	return nil
}

func (c *callContext) Value(key any) any {
	if _, ok := key.(invocationKey); ok {
		return c.inst
	}
	return c.parent.Value(key)
}

// end moves a running context to state and closes Done; it reports
// whether this call ended it (false: it had already ended).
func (c *callContext) end(state int32) bool {
	if !c.state.CompareAndSwap(callRunning, state) {
		return false
	}
	c.mu.Lock()
	if c.done != nil {
		close(c.done)
	} else {
		c.done = closedChan
	}
	c.mu.Unlock()
	return true
}

// parentWatchDelay is how long a call runs before its instance watches
// the caller's context. Registering with a context (context.AfterFunc)
// allocates three objects and takes the context's lock; most warm calls
// are over well before this, so they never pay it. A caller that goes
// away (a client hanging up) stops the guest at most this much later than
// it would otherwise; a caller already gone when the call starts stops it
// at once.
const parentWatchDelay = time.Millisecond

// watch is an instance's means to end its running call: a timer for the
// deadline, a timer after which the caller's context is watched, and the
// function registered on that context, all made once per instance. Each
// callback, once started, signals its channel, and run waits for a
// callback it could not stop, so a late callback never reaches the next
// call.
type watch struct {
	cur         atomic.Pointer[callContext]
	interrupter *interrupter

	deadline     *time.Timer
	deadlineDone chan struct{}

	later      *time.Timer // starts watching the caller's context
	laterDone  chan struct{}
	stopParent func() bool // set by later's callback; read by run after it
	onParent   func()
	parentDone chan struct{}
}

func newWatch(it *interrupter) *watch {
	w := &watch{interrupter: it, deadlineDone: make(chan struct{}, 1), laterDone: make(chan struct{}, 1), parentDone: make(chan struct{}, 1)}
	w.deadline = time.AfterFunc(time.Hour, func() {
		w.fire(callTimedOut)
		w.deadlineDone <- struct{}{}
	})
	w.deadline.Stop()
	w.onParent = func() {
		w.fire(callCanceled)
		w.parentDone <- struct{}{}
	}
	w.later = time.AfterFunc(time.Hour, func() {
		if c := w.cur.Load(); c != nil {
			w.stopParent = context.AfterFunc(c.parent, w.onParent)
		}
		w.laterDone <- struct{}{}
	})
	w.later.Stop()
	return w
}

// fire ends the running call and interrupts the guest.
func (w *watch) fire(state int32) {
	if c := w.cur.Load(); c != nil && c.end(state) {
		w.interrupter.set()
	}
}

// run calls f with c ending at its deadline or with its parent, or when
// cpu (if not nil) finds it over cpuLimit, and the guest interrupted then.
// When it returns, no callback is running, and c is still running unless
// it ended for one of those.
func (w *watch) run(c *callContext, cpu *cpuMeter, cpuLimit time.Duration, f func() error) error {
	w.cur.Store(c)
	if cpu != nil {
		cpu.begin(cpuLimit)
	}
	watchParent := c.parent.Done() != nil
	if watchParent {
		if c.parent.Err() != nil {
			w.fire(callCanceled) // gone already: the guest stops at once
		}
		w.later.Reset(parentWatchDelay)
	}
	if c.hasDeadline {
		w.deadline.Reset(time.Until(c.deadline))
	}
	err := f()
	if cpu != nil {
		// Before the state is read below: a check that ends c is over
		// once end returns.
		cpu.end()
	}
	if c.hasDeadline && !w.deadline.Stop() {
		<-w.deadlineDone
	}
	if watchParent && !w.later.Stop() {
		<-w.laterDone
		if !w.stopParent() {
			<-w.parentDone
		}
		w.stopParent = nil
	}
	w.cur.Store(nil)
	if c.state.Load() != callRunning {
		// The interrupt may have been set after the guest returned: clear
		// it, or the instance's next call would trap.
		w.interrupter.clear()
	}
	return err
}
