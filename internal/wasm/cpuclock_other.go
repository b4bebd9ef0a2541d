//go:build !linux

package wasm

import "time"

// cpuLimitEnforced is false outside Linux: there is no portable per-thread
// CPU clock another thread can read, so Env.CPULimit is ignored and only
// the wall-clock timeout bounds a call (docs/manifest.md says so).
const cpuLimitEnforced = false

func currentThread() int { return 0 }

func threadCPUTime(int) time.Duration { return 0 }
