//go:build linux

package wasm

import (
	"time"

	"golang.org/x/sys/unix"
)

// cpuLimitEnforced reports whether Env.CPULimit is enforced on this
// platform.
const cpuLimitEnforced = true

// currentThread is the id of the OS thread running the caller, which must
// have locked itself to it (runtime.LockOSThread) for the id to stay
// meaningful.
func currentThread() int { return unix.Gettid() }

// threadCPUTime is the on-CPU time of thread tid of this process, read
// from its CPU clock. Linux encodes a thread's clock id as the complement
// of its id shifted left by three, with CPUCLOCK_PERTHREAD (4) and
// CPUCLOCK_SCHED (2) in the low bits; the kernel lets any thread of the
// process read it. The vDSO does not serve these clocks: each read is a
// system call (a few hundred nanoseconds).
func threadCPUTime(tid int) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(int32((^tid)<<3|6), &ts); err != nil {
		// The thread is locked to a running call and cannot have exited;
		// an error here would be a kernel without thread clocks, and
		// counting nothing leaves the wall-clock timeout in charge.
		return 0
	}
	return time.Duration(ts.Nano())
}
