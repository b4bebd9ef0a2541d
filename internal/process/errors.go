package process

import "github.com/stratahq/strata/internal/wasm"

// HandlerError is an invocation the handler failed through the Runtime
// API's /error: the error object it reported (type and message, as
// Lambda's runtimes build it from a thrown error) beside the trap the
// platform counts and logs. Callers that speak Lambda's shapes (the
// Invoke API, Step Functions' Tasks) answer the handler's own object
// through LambdaError; everything else sees the trap (Unwrap), so a
// handler's failure is a guest failure as a Wasm trap is.
type HandlerError struct {
	Type, Message string
	Trap          *wasm.TrapError
}

func (e *HandlerError) Error() string { return e.Trap.Error() }

func (e *HandlerError) Unwrap() error { return e.Trap }

// LambdaError is the handler's error object: errorType, errorMessage.
func (e *HandlerError) LambdaError() (typ, message string) { return e.Type, e.Message }
