package pool

import (
	"context"

	"github.com/stratahq/strata/internal/wasm"
	"github.com/stratahq/strata/sdk/go/wire"
)

// Module is what a pool keeps instances of: a compiled Wasm module, or a
// process function's code (internal/process). The pool needs nothing of
// either beyond this, so routes, queues, schedules, concurrency,
// provisioned instances, idle reclaim and the memory budget work the same
// for both.
type Module interface {
	Name() string     // "fn@3", for errors and logs
	Function() string // the function's name, for spans
	Kind() string     // record.KindReactor, KindCommand or KindProcess
	MemoryMB() int    // what each instance holds from the budget
	// Instantiate starts one instance, ready for its first Handle.
	Instantiate(ctx context.Context) (Instance, error)
	// RunCommand runs req on a fresh instance of a command module (Kind
	// record.KindCommand); the others never get it.
	RunCommand(ctx context.Context, req *wire.Request, out wasm.Env) (*wire.Response, error)
}

// Instance is one live instance: it serves one Handle at a time (the pool
// guarantees that) until it is broken (a trap, a timeout: the pool closes
// it and starts another) or closed.
type Instance interface {
	Handle(ctx context.Context, req *wire.Request, out wasm.Env) (*wire.Response, error)
	Broken() bool
	Close(ctx context.Context) error
}

var (
	_ Instance = (*wasm.Instance)(nil)
	_ Module   = Wasm{}
)

// Wasm adapts a compiled Wasm module to Module (its Instantiate returns
// the concrete instance type).
type Wasm struct{ *wasm.Module }

// Instantiate starts a Wasm instance.
func (w Wasm) Instantiate(ctx context.Context) (Instance, error) {
	inst, err := w.Module.Instantiate(ctx)
	if err != nil {
		return nil, err
	}
	return inst, nil
}
