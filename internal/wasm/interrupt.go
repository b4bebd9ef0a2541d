package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/stratahq/strata/internal/instrument"
)

// interrupter stops an instrumented guest at its context's deadline: a
// context.AfterFunc sets the guest's interrupt flag and zeroes its loop
// countdown, so the check internal/instrument put before every branch back
// to a loop header takes its slow path at the next iteration and traps with
// `unreachable`. classify then reports ErrTimeout (or context.Canceled)
// because ctx is done. A guest blocked in a host call (a sleep in
// poll_oneoff) stops at its first loop iteration after the call returns,
// as with wazero's own checks.
//
// Registering and stopping an AfterFunc costs well under a microsecond;
// wazero's WithCloseOnContextDone starts a goroutine per call instead.
//
// The zero value (no flag: a module wazero guards itself) does nothing.
type interrupter struct {
	flag      api.MutableGlobal
	countdown api.MutableGlobal
	fired     chan struct{} // one token per firing of fire
	fire      func()        // kept so arming does not allocate a method value
}

func newInterrupter(mod api.Module) (*interrupter, error) {
	flag, ok1 := mod.ExportedGlobal(instrument.InterruptExport).(api.MutableGlobal)
	countdown, ok2 := mod.ExportedGlobal(instrument.CountdownExport).(api.MutableGlobal)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("instrumented module lacks the mutable globals %s and %s",
			instrument.InterruptExport, instrument.CountdownExport)
	}
	it := &interrupter{flag: flag, countdown: countdown, fired: make(chan struct{}, 1)}
	it.fire = func() {
		it.set()
		it.fired <- struct{}{}
	}
	return it, nil
}

// set makes the guest trap at its next loop back-edge. The flag first:
// the countdown reaching 0 is what makes the guest look at it. The guest
// may overwrite the countdown with its own decrement; it then sees the
// flag within CheckInterval iterations. On nil it does nothing (a guarded
// module stops when its context's Done closes).
func (it *interrupter) set() {
	if it == nil {
		return
	}
	it.flag.Set(1)
	it.countdown.Set(0)
}

// clear undoes set.
func (it *interrupter) clear() {
	if it != nil {
		it.flag.Set(0)
	}
}

// call runs f with the interrupt armed for ctx.
func (it *interrupter) call(ctx context.Context, f func() error) error {
	if it == nil || ctx.Done() == nil {
		return f()
	}
	stop := context.AfterFunc(ctx, it.fire)
	err := f()
	if !stop() {
		// ctx ended during (or before) the call. Wait until the flag is
		// set, then clear it: if the guest finished first, the instance
		// is still good and must not trap on its next call.
		<-it.fired
		it.clear()
	}
	return err
}
