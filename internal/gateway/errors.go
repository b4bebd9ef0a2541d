package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/flow"
	"github.com/stratahq/strata/internal/invoke"
	"github.com/stratahq/strata/internal/store"
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
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &se):
		return se.Code
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, context.Canceled):
		return statusClientClosed
	case invoke.IsLoading(err):
		return http.StatusServiceUnavailable
	case invoke.IsThrottled(err):
		return http.StatusTooManyRequests
	case invoke.IsTimeout(err):
		return http.StatusGatewayTimeout
	case invoke.IsCPULimit(err):
		// The function's own limit, not a passing overload: no
		// Retry-After (the same request would use as much CPU again).
		return http.StatusServiceUnavailable
	case invoke.IsResponseTooLarge(err), invoke.IsBadLambdaResponse(err):
		return http.StatusBadGateway
	case invoke.IsGuestFailure(err):
		return http.StatusInternalServerError
	case invoke.IsInvalidModule(err):
		return http.StatusBadRequest
	case invoke.IsNoFunction(err), errors.Is(err, store.ErrNotFound), errors.Is(err, flow.ErrUnknownWorkflow):
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

// WriteError answers with the error's status and a JSON body. Guest traps
// are not echoed to the caller (a panic message may hold data the function's
// owner did not mean to publish); they are in the function's logs.
func WriteError(w http.ResponseWriter, err error, invocationID string) {
	code := Status(err)
	msg := err.Error()
	switch {
	case invoke.IsGuestFailure(err):
		msg = "function failed; its logs have the error"
	case invoke.IsBadLambdaResponse(err):
		// The reason quotes the function's answer: for its owner.
		msg = "function answered an invalid Lambda response; its logs say what is wrong"
	}
	if code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// A rate limit sets its own wait; a full pool frees up within a
		// second.
		w.Header().Set("Retry-After", "1")
	}
	if invoke.IsLoading(err) && w.Header().Get("Retry-After") == "" {
		// Loading takes up to the compile budget or init timeout.
		w.Header().Set("Retry-After", RetryAfterLoading)
	}
	if invocationID != "" {
		w.Header().Set(apitype.HeaderInvocationID, invocationID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: msg, Status: code, InvocationID: invocationID})
}
