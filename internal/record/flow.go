package record

import "time"

// Execution statuses.
const (
	FlowRunning    = "running"
	FlowCompleted  = "completed"
	FlowFailed     = "failed"
	FlowCanceled   = "canceled"
	FlowTerminated = "terminated"
)

// Inbox message kinds.
const (
	InboxSignal = "signal" // Name is the signal's name, Data its JSON value
	InboxCancel = "cancel" // Data is the reason (JSON string), may be empty
	InboxChild  = "child"  // a child execution closed; Data is chosen by the engine
)

// FlowExecution is one execution (all its runs; Run is the current one).
type FlowExecution struct {
	ID       string
	Project  string
	Workflow string
	Function string // the function whose code orchestrates it
	Run      int    // 1 for the first run; continue-as-new and a full restart add 1
	Status   string
	Input    []byte // JSON input of the current run
	Output   []byte // JSON output once completed
	Error    []byte // JSON error once failed/canceled/terminated (engine's shape)
	TraceID  string // 32 hex: every run of the execution belongs to this trace
	// ParentID and ParentStep name the execution and step that started this
	// one as a child; "" and 0 for a top-level execution.
	ParentID   string
	ParentStep int
	// HistoryLen is the number of events in the current run's history (the
	// Seq of its last event).
	HistoryLen  int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time // zero while running
	RetainUntil time.Time // zero while running; FlowSweep deletes after it
}

// FlowEvent is one history event of one run. Seq is 1-based and dense per
// run; the store assigns it from FlowCommit.FromSeq. Type, Step, Name and
// Data are the engine's; the store keeps them as given.
type FlowEvent struct {
	Seq  int
	Type string
	Step int    // the orchestrator step it belongs to, 0 for none
	Name string // function, workflow, timer, signal or marker name
	Data []byte // JSON, may be nil
	Time time.Time
}

// FlowInbox is a message waiting for an execution. ID is assigned by the
// store and increases in arrival order.
type FlowInbox struct {
	ID          int64
	ExecutionID string
	Kind        string // InboxSignal, InboxCancel, InboxChild
	Name        string
	Data        []byte
	Time        time.Time
}

// FlowTask is a claimed task: the execution and the lease its holder must
// present to commit. Attempts counts claims since the last release (a
// task that keeps crashing its orchestrator is noticed by the engine).
type FlowTask struct {
	ExecutionID string
	Lease       string
	LeaseUntil  time.Time
	Attempts    int
}
