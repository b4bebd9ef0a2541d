package flow

import (
	"errors"
	"time"

	"github.com/stratahq/strata/internal/store"
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
	// ErrIDTaken: a start names an id held by an execution of another
	// workflow or another project. The error says nothing more about that
	// execution: ids are a global namespace, and telling the caller whose
	// execution holds one would let any project read others' executions
	// by guessing ids. It is a store.ErrConflict (409 at the gateway).
	ErrIDTaken error = idTaken{}
)

type idTaken struct{}

func (idTaken) Error() string        { return "execution id taken" }
func (idTaken) Is(target error) bool { return target == store.ErrConflict }

// AllProjects, as the project argument of the engine's methods, reaches
// executions of every project. Only the token-authenticated admin API
// passes it; a function's host calls always pass the caller's project.
const AllProjects = ""

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
	// starting a workflow of another project gets ErrUnknownWorkflow), and
	// an existing execution with ID is returned only when it belongs to
	// this project (else ErrIDTaken). AllProjects: the admin API.
	Project string
	// Records are keyed records (keyed.go) committed with the start: what
	// a keyed orchestrator must know from its first pass on (a state
	// machine's definition as it was when the execution started).
	Records []Record
}

// Record is one keyed record.
type Record struct {
	Key   string
	Value []byte // JSON
}
