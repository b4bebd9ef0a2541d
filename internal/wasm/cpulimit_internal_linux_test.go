//go:build linux

package wasm

import (
	"runtime"
	"testing"
	"time"
)

// The thread clock counts the calling thread's work only: a busy loop of a
// few milliseconds shows in it, and a sleep does not.
func TestThreadCPUTime(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := currentThread()
	before := threadCPUTime(tid)
	if before <= 0 {
		t.Fatalf("thread CPU time %v: the clock is not readable", before)
	}
	for spin := time.Now(); threadCPUTime(tid)-before < 5*time.Millisecond; {
		if time.Since(spin) > time.Minute {
			t.Fatal("a minute of spinning showed no 5 ms of CPU time")
		}
	}
	mid := threadCPUTime(tid)
	time.Sleep(50 * time.Millisecond)
	// The sleep itself costs microseconds of CPU, not its 50 ms.
	if slept := threadCPUTime(tid) - mid; slept >= 50*time.Millisecond {
		t.Fatalf("a 50 ms sleep counted %v of CPU time", slept)
	}
}

// BenchmarkCPUMeter is the meter's own cost, without a guest: what a call
// with a limit pays once (begin and end), and what each waiting host call
// pays (pause and resume).
func BenchmarkCPUMeter(b *testing.B) {
	m := newCPUMeter(newWatch(nil))
	b.Run("begin-end", func(b *testing.B) {
		for b.Loop() {
			m.begin(time.Hour)
			m.end()
		}
	})
	b.Run("pause-resume", func(b *testing.B) {
		m.begin(time.Hour)
		defer m.end()
		for b.Loop() {
			if m.pause() {
				m.resume()
			}
		}
	})
}
