package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/pool"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/wasm"
)

// StatusError carries an explicit HTTP status for errors that are about the
// request itself (bad input, missing auth) rather than about the platform.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Errorf returns a *StatusError with the given status.
func Errorf(code int, format string, args ...any) error {
	return &StatusError{Code: code, Err: fmt.Errorf(format, args...)}
}

// statusClientClosed is nginx's 499: the client went away before the
// answer. Nobody reads it; it keeps such requests out of 5xx counts.
const statusClientClosed = 499

// Status maps an error to the HTTP status a client sees. It is the only
// such mapping in Strata.
func Status(err error) int {
	var se *StatusError
	var mbe *http.MaxBytesError
	var trap *wasm.TrapError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &se):
		return se.Code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	case errors.Is(err, invoke.ErrLoading):
		return http.StatusServiceUnavailable
	case errors.Is(err, pool.ErrAtCapacity):
		return http.StatusTooManyRequests
	case errors.Is(err, wasm.ErrTimeout):
		return http.StatusGatewayTimeout
	case errors.Is(err, wasm.ErrResponseTooLarge):
		return http.StatusBadGateway
	case errors.As(err, &trap):
		return http.StatusInternalServerError
	case errors.Is(err, wasm.ErrInvalidModule):
		return http.StatusBadRequest
	case errors.Is(err, invoke.ErrNoFunction), errors.Is(err, store.ErrNotFound), errors.Is(err, flow.ErrUnknownWorkflow):
		return http.StatusNotFound
	case errors.Is(err, flow.ErrBadInput):
		return http.StatusBadRequest
	case errors.Is(err, flow.ErrPayloadTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrRunning):
		// ErrClosed: a signal or cancel for a finished execution;
		// ErrRunning: restarting one that still runs.
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}

// ErrorBody is the JSON body of every error Strata itself answers with.
type ErrorBody struct {
	Error        string `json:"error"`
	Status       int    `json:"status"`
	InvocationID string `json:"invocation_id,omitempty"`
}

// WriteError answers with the error's status and a JSON body. Guest traps
// are not echoed to the caller (a panic message may hold data the function's
// owner did not mean to publish); they are in the function's logs.
func WriteError(w http.ResponseWriter, err error, invocationID string) {
	code := Status(err)
	msg := err.Error()
	var trap *wasm.TrapError
	if errors.As(err, &trap) {
		msg = "function failed; its logs have the error"
	}
	if code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// A rate limit sets its own wait; a full pool frees up within a
		// second.
		w.Header().Set("Retry-After", "1")
	}
	if errors.Is(err, invoke.ErrLoading) && w.Header().Get("Retry-After") == "" {
		// Loading takes up to the compile budget or init timeout.
		w.Header().Set("Retry-After", RetryAfterLoading)
	}
	if invocationID != "" {
		w.Header().Set(HeaderInvocationID, invocationID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(ErrorBody{Error: msg, Status: code, InvocationID: invocationID})
}
