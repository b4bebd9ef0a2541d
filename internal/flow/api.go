package flow

import (
	"errors"
	"time"
)

// Errors the admin API and the SDK map to statuses. Store errors
// (store.ErrNotFound, store.ErrClosed, store.ErrRunning) pass through
// wrapped.
var (
	// ErrUnknownWorkflow: no active function declares the workflow.
	ErrUnknownWorkflow = errors.New("unknown workflow")
	// ErrBadInput: an input that is not JSON, or a bad id or name.
	ErrBadInput = errors.New("bad input")
	// ErrPayloadTooLarge: an input, output or signal over MaxPayload.
	ErrPayloadTooLarge = errors.New("payload too large")
)

// Limits (docs/workflows.md).
const (
	// MaxPayload bounds one input, output, step result or signal value.
	MaxPayload = 1 << 20
	// DefaultHistoryLimit is the events one run may hold before it fails
	// with HistoryLimitExceeded (continue-as-new starts a fresh history).
	DefaultHistoryLimit = 50_000
	// DefaultRetention keeps a finished execution this long.
	DefaultRetention = 7 * 24 * time.Hour
	// MaxIDLength bounds execution ids.
	MaxIDLength = 200
)

// StartParams starts an execution.
type StartParams struct {
	Workflow string
	// ID is the execution id and its idempotency key: starting an id that
	// exists returns that execution. "" gets a new UUIDv7.
	ID          string
	Input       []byte // JSON; nil is null
	TraceParent string // W3C traceparent to join, may be empty
	// Project, when set, must be the workflow's project (a function
	// starting a workflow of another project gets ErrUnknownWorkflow).
	Project string
}
