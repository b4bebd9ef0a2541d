package wasm

import (
	"runtime"
	"sync"
	"time"
)

// minCPUCheck is the shortest wait before the CPU budget is looked at
// again, so a call close to its limit does not spin the timer.
const minCPUCheck = 100 * time.Microsecond

// cpuMeter enforces an instance's per-call CPU-time limit (Env.CPULimit).
//
// The guest runs on Handle's goroutine, which is locked to its OS thread
// for the call, so that thread's CPU clock counts the guest's work and
// nothing else's. One timer per instance, armed for the budget left,
// reads that clock from the timer's goroutine when it fires: a call can
// not have used more CPU than the wall time that passed, so until the
// timer fires the budget cannot be spent. When it fires early (the guest
// shared its core, or waited), it re-arms itself for what is left. Over
// the limit, it ends the call through the instance's watch, which
// interrupts the guest as at a deadline.
//
// Host calls that wait (bindings, events, sleeps) pause the meter: the
// time they wait is not the guest's, and the goroutine is unlocked while
// it waits, so the Go scheduler can park it as usual (a locked goroutine
// that blocks costs a thread hand-off). On resume it locks again, to
// whatever thread it then runs on.
//
// All fields but w and timer are guarded by mu, which the timer's
// callback holds while it reads the clock and decides, so a pause, a
// resume or the end of the call never races a check.
type cpuMeter struct {
	w     *watch
	timer *time.Timer

	mu     sync.Mutex
	active bool          // a call with a limit is running
	limit  time.Duration // its limit
	used   time.Duration // CPU time of its finished stretches
	tid    int           // thread of the running stretch; 0 while paused
	start  time.Duration // that thread's CPU clock when the stretch began
}

func newCPUMeter(w *watch) *cpuMeter {
	m := &cpuMeter{w: w}
	m.timer = time.AfterFunc(time.Hour, m.check)
	m.timer.Stop()
	return m
}

// begin starts metering a call on the calling goroutine.
func (m *cpuMeter) begin(limit time.Duration) {
	runtime.LockOSThread()
	tid := currentThread()
	start := threadCPUTime(tid)
	m.mu.Lock()
	m.active, m.limit, m.used, m.tid, m.start = true, limit, 0, tid, start
	m.timer.Reset(limit)
	m.mu.Unlock()
}

// end stops metering. A check already started waits for mu and then finds
// the meter inactive; a stale firing during a later call checks that
// call's budget, which is harmless.
func (m *cpuMeter) end() {
	m.mu.Lock()
	m.active, m.tid = false, 0
	m.timer.Stop()
	m.mu.Unlock()
	runtime.UnlockOSThread()
}

// pause stops counting before a host call that waits. It reports whether
// the meter was running (the caller then calls resume).
func (m *cpuMeter) pause() bool {
	if m == nil {
		return false
	}
	m.mu.Lock()
	if !m.active || m.tid == 0 {
		m.mu.Unlock()
		return false
	}
	m.used += threadCPUTime(m.tid) - m.start
	m.tid = 0
	m.mu.Unlock()
	runtime.UnlockOSThread()
	return true
}

// resume counts again after pause, on the thread the goroutine now runs on.
func (m *cpuMeter) resume() {
	runtime.LockOSThread()
	tid := currentThread()
	start := threadCPUTime(tid)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.active {
		return
	}
	m.tid, m.start = tid, start
	m.timer.Reset(max(m.limit-m.used, minCPUCheck))
}

// check is the timer's callback: over the limit it ends the call (the
// guest traps at its next loop back-edge); otherwise it waits for the
// budget left. While paused it does nothing: resume re-arms.
func (m *cpuMeter) check() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.active || m.tid == 0 {
		return
	}
	used := m.used + threadCPUTime(m.tid) - m.start
	if used >= m.limit {
		m.w.fire(callCPULimit)
		return
	}
	m.timer.Reset(max(m.limit-used, minCPUCheck))
}
