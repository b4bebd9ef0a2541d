package invoke

import (
	"errors"

	"github.com/stratahq/strata/internal/lambda"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/wasm"
)

// ErrNoFunction is returned when a function is not deployed.
var ErrNoFunction = errors.New("function not deployed")

// ErrLoading is returned for a deployed function whose module this node is
// still compiling or initialising after a start (see registry.Load): the
// caller may retry shortly, unlike ErrNoFunction.
var ErrLoading = errors.New("function still loading")

// ErrVersionNotActive is returned when Request.Version names a version
// that is not the function's active one.
var ErrVersionNotActive = errors.New("version not active")

// The predicates below are how callers of Invoke (the gateway, queues,
// workflows) tell its failures apart, without importing the packages
// that produce them (pool, wasm). Each matches wrapped errors.

// IsNoFunction reports a function that is not deployed (404).
func IsNoFunction(err error) bool { return errors.Is(err, ErrNoFunction) }

// IsLoading reports a function this node is still loading after a start
// (503, retry shortly).
func IsLoading(err error) bool { return errors.Is(err, ErrLoading) }

// IsThrottled reports an invocation refused before it ran: a concurrency
// cap (the node's, the project's share, the function's) or the memory
// budget was full (429). It was not attempted: an event stays queued, a
// workflow step does not count the attempt.
func IsThrottled(err error) bool { return errors.Is(err, pool.ErrAtCapacity) }

// IsTimeout reports an invocation stopped at its deadline (504).
func IsTimeout(err error) bool { return errors.Is(err, wasm.ErrTimeout) }

// IsCPULimit reports an invocation stopped for using more CPU time than
// its cpu_ms (503, no Retry-After: the same request would use as much).
func IsCPULimit(err error) bool { return errors.Is(err, wasm.ErrCPULimit) }

// IsResponseTooLarge reports a response above the node's limit (502).
func IsResponseTooLarge(err error) bool { return errors.Is(err, wasm.ErrResponseTooLarge) }

// IsBadLambdaResponse reports a Lambda-shaped function's answer that is
// not a valid result for its trigger (502); its logs say what is wrong.
func IsBadLambdaResponse(err error) bool { return errors.Is(err, lambda.ErrBadResponse) }

// IsGuestFailure reports the guest's own failure: a trap, a panic, a
// non-zero exit, a malformed response (500). Its message is for the
// function's owner (it is in the function's logs), not for its callers.
func IsGuestFailure(err error) bool {
	var trap *wasm.TrapError
	return errors.As(err, &trap)
}

// IsInvalidModule reports a module refused by compilation: not
// WebAssembly, unknown imports, missing exports, over a limit (400).
func IsInvalidModule(err error) bool { return errors.Is(err, wasm.ErrInvalidModule) }

// IsCompileBusy reports a compilation refused because the node's compile
// slots stayed full (503, retry).
func IsCompileBusy(err error) bool { return errors.Is(err, wasm.ErrCompileBusy) }
