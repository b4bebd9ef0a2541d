package runtime

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"

	"github.com/stratahq/strata/internal/instrument"
)

// interrupter stops an instrumented guest at its context's deadline: a
// context.AfterFunc sets the guest's interrupt global, and the check that
// internal/instrument put at every loop header traps with `unreachable`.
// classify then reports ErrTimeout (or context.Canceled) because ctx is
// done. A guest blocked in a host call (a sleep in poll_oneoff) stops at its
// first loop header after the call returns, as with wazero's own checks.
//
// The zero value (no flag: a module wazero guards itself) does nothing.
type interrupter struct {
	flag  api.MutableGlobal
	fired chan struct{} // one token per firing of fire
	fire  func()        // kept so arming does not allocate a method value
}

func newInterrupter(mod api.Module) (*interrupter, error) {
	g, ok := mod.ExportedGlobal(instrument.InterruptExport).(api.MutableGlobal)
	if !ok {
		return nil, fmt.Errorf("instrumented module lacks the mutable global %s", instrument.InterruptExport)
	}
	it := &interrupter{flag: g, fired: make(chan struct{}, 1)}
	it.fire = func() {
		it.flag.Set(1)
		it.fired <- struct{}{}
	}
	return it, nil
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
		it.flag.Set(0)
	}
	return err
}
