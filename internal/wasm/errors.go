package wasm

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrTimeout means the invocation's context deadline passed and the
	// guest was interrupted. The instance that ran it is discarded.
	ErrTimeout = errors.New("function timed out")

	// ErrCPULimit is what every *CPULimitError is: the call used more CPU
	// time than Env.CPULimit and the guest was interrupted. The instance
	// that ran it is discarded.
	ErrCPULimit = errors.New("exceeded CPU time limit")

	// ErrResponseTooLarge means the guest produced a response above
	// Config.MaxResponseBytes.
	ErrResponseTooLarge = errors.New("response too large")

	// ErrInvalidModule wraps every reason Compile rejects a module: not
	// WebAssembly, unknown imports, missing exports, memory above the limit.
	ErrInvalidModule = errors.New("invalid module")

	// ErrInstanceBroken is returned by Handle on an instance that already
	// failed in a way that leaves its state unknown (trap, timeout, panic).
	ErrInstanceBroken = errors.New("instance is broken")
)

// TrapError is a guest failure: a WebAssembly trap, a Go panic or fatal
// error in the guest, a non-zero exit code, or a malformed response. The
// message is meant for the function's owner; the guest's own output (panic
// message, stack) went to the invocation's stderr.
type TrapError struct {
	Module  string // "fn@3"
	Message string
}

func (e *TrapError) Error() string {
	return fmt.Sprintf("module %s: %s", e.Module, e.Message)
}

// CPULimitError is a call stopped for its CPU time (Env.CPULimit). Its
// text names the function and the limit, as a timeout's does.
type CPULimitError struct {
	Module string        // "fn@3"
	Limit  time.Duration // the limit that was exceeded
}

func (e *CPULimitError) Error() string {
	return fmt.Sprintf("%s: %v of %d ms", e.Module, ErrCPULimit, e.Limit.Milliseconds())
}

// Is makes errors.Is(err, ErrCPULimit) true.
func (e *CPULimitError) Is(target error) bool { return target == ErrCPULimit }
