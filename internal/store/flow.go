package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// Durable execution (internal/flow). An execution is an append-only
// history of events per run, at most one task row (the execution's
// "orchestrate" task: due time plus lease) and an inbox of messages from
// outside (signals, cancel requests, child results) waiting to be consumed.
//
// Invariant every backend keeps: a running execution has exactly one task
// row; a closed one has none and an empty inbox, except that a failed one
// keeps its unconsumed signals for a restart from the failure.

var (
	// ErrLeaseLost: a commit or renewal from a holder whose lease is no
	// longer the task's (expired and claimed by another worker, or the
	// execution was terminated, closed or reopened), or whose FromSeq is
	// not the history's length. Nothing was written for it.
	ErrLeaseLost = errors.New("lease lost")
	// ErrClosed: the execution is not running; signals and cancels are
	// refused, and terminate has nothing to do.
	ErrClosed = errors.New("execution closed")
	// ErrRunning: reopening an execution that is still running.
	ErrRunning = errors.New("execution running")
)

// ExecutionStateError is ErrClosed or ErrRunning for one execution. Its
// text is the whole message ("execution \"req-1\" is completed"): it read
// "execution req-1 is completed: execution closed" before.
type ExecutionStateError struct {
	ID     string
	Status string // the execution's status: running, completed, failed …
	Err    error  // ErrClosed or ErrRunning
}

func (e *ExecutionStateError) Error() string {
	return fmt.Sprintf("execution %q is %s", e.ID, e.Status)
}

func (e *ExecutionStateError) Unwrap() error { return e.Err }

// FlowStartParams creates an execution with its first history events
// (Seq 1..len(Events)) and its task, due at DueAt (zero: now). With Lease set the task
// is created already claimed (the starting node runs it at once) until
// LeaseUntil. Execution.Status, Run, HistoryLen and the times are set by
// the store (running, 1, len(Events), now).
type FlowStartParams struct {
	Execution  record.FlowExecution
	Events     []record.FlowEvent
	DueAt      time.Time
	Lease      string
	LeaseUntil time.Time
}

// FlowStarted is one result of FlowStartBatch: the execution, and
// whether this call created it.
type FlowStarted struct {
	Execution *record.FlowExecution
	Created   bool
}

// FlowClose finishes an execution: its task and inbox are deleted (a
// failed execution keeps the signals in its inbox).
type FlowClose struct {
	Status      string // FlowCompleted, FlowFailed, FlowCanceled, FlowTerminated
	Output      []byte
	Error       []byte
	RetainUntil time.Time
}

// FlowCommit is what one run writes at once, under its lease:
//   - Events are appended to the current run with Seq FromSeq+1, ...;
//     FromSeq must equal the execution's HistoryLen (else ErrLeaseLost);
//   - ConsumeInbox messages (moved into Events by the engine) are deleted;
//   - Start creates child executions (an id that exists is left as it is);
//   - Send puts messages in other executions' inboxes and wakes their
//     tasks (a target that is unknown or closed is skipped);
//   - then exactly one of: Close (finish), NewRun (continue-as-new: Run+1,
//     Input = NewRun.Input, the new run's history is NewRun.Events, task
//     due now and released), Release (lease cleared; due at DueAt, or now
//     if the inbox holds a message not consumed here; never due when DueAt
//     is zero and the inbox is empty; Attempts reset), or none of them
//     (the lease is kept and extended to LeaseUntil).
type FlowCommit struct {
	ExecutionID  string
	Lease        string
	FromSeq      int
	Events       []record.FlowEvent
	ConsumeInbox []int64
	Start        []FlowStartParams
	Send         []record.FlowInbox
	Close        *FlowClose
	NewRun       *FlowNewRun
	Release      *FlowRelease
	LeaseUntil   time.Time
}

// FlowNewRun starts the next run of an execution (continue-as-new).
type FlowNewRun struct {
	Input  []byte
	Events []record.FlowEvent
}

// FlowRelease gives a task back until DueAt (zero: until a message).
// InboxSeen is the highest inbox message ID the holder has seen: only a
// message with a higher ID (one that arrived since) makes the task due
// now, so a buffered signal nobody waits for yet does not wake the
// execution again and again.
type FlowRelease struct {
	DueAt     time.Time
	InboxSeen int64
}

// FlowReopenParams reopens a closed execution (restart). Events are
// appended to the current run (e.g. "restarted", telling the engine which
// recorded results to forget) unless NewRun is set, in which case a new
// run starts with NewRun.Input and NewRun.Events. The task is due now.
type FlowReopenParams struct {
	ID     string
	Events []record.FlowEvent
	NewRun *FlowNewRun
}

// FlowListParams filters executions; zero fields do not filter. Newest
// (by CreatedAt, then ID) first. Before pages: only executions created
// strictly before the execution with this ID.
type FlowListParams struct {
	Project  string
	Workflow string
	Status   string
	ParentID string
	Before   string
	Limit    int // 0 means 100
}

// FlowCount is how many executions of a workflow have a status.
type FlowCount struct {
	Project, Workflow, Status string
	N                         int64
}

// Flow is the durable execution part of the store. now is passed in so
// the engine's clock (fake in tests) decides what is due.
type Flow interface {
	// FlowStart creates an execution; created is false (and nothing is
	// written) when the ID exists, and the existing execution is returned.
	FlowStart(ctx context.Context, p FlowStartParams, now time.Time) (exec *record.FlowExecution, created bool, err error)
	// FlowStartBatch is FlowStart for several executions in one
	// transaction (concurrent starts share one synced commit). It fails
	// as a whole: on an error nothing was created.
	FlowStartBatch(ctx context.Context, ps []FlowStartParams, now time.Time) ([]FlowStarted, error)
	// FlowCommitBatch applies commits in one transaction and returns one
	// error per commit (nil: written). A commit that fails its lease or
	// FromSeq check gets ErrLeaseLost and writes nothing; the others are
	// applied. A failure of the transaction itself is returned for all.
	FlowCommitBatch(ctx context.Context, commits []FlowCommit, now time.Time) []error
	// FlowClaim leases up to limit due tasks (due at or before now, not
	// leased or lease expired) to owner until now+leaseFor, each with a
	// fresh lease string, and counts the attempt. Oldest due first.
	FlowClaim(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]record.FlowTask, error)
	// FlowRenew extends held leases to until and returns the execution IDs
	// whose lease was lost.
	FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) (lost []string, err error)
	// FlowNextDue is the earliest time a task becomes claimable: its due
	// time, or the end of its lease when that is later (a crashed node's
	// task); ok is false when nothing is ever due.
	FlowNextDue(ctx context.Context) (t time.Time, ok bool, err error)

	// FlowGet returns an execution or ErrNotFound.
	FlowGet(ctx context.Context, id string) (*record.FlowExecution, error)
	// FlowList lists executions (see FlowListParams).
	FlowList(ctx context.Context, p FlowListParams) ([]record.FlowExecution, error)
	// FlowCount counts executions by project, workflow and status (the
	// metrics collector's gauge), ordered by those three.
	FlowCount(ctx context.Context) ([]FlowCount, error)
	// FlowHistory returns events of one run with Seq > afterSeq in order,
	// at most limit (0: all).
	FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error)
	// FlowInboxList returns an execution's waiting messages, oldest first.
	FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error)

	// FlowSend puts a message in a running execution's inbox and makes its
	// task due now (a leased task keeps its lease; its holder finds the
	// message). ErrNotFound for an unknown execution, ErrClosed when it is
	// not running. Returns the message's ID.
	FlowSend(ctx context.Context, m record.FlowInbox, now time.Time) (int64, error)
	// FlowTerminate closes a running execution at once, without its
	// code: ev is appended to the current run, the close applied, task
	// and inbox deleted. ErrNotFound, or ErrClosed if it was not running.
	FlowTerminate(ctx context.Context, id string, ev record.FlowEvent, c FlowClose, now time.Time) error
	// FlowReopen makes a closed execution running again (see
	// FlowReopenParams). ErrNotFound, or ErrRunning if it is running.
	FlowReopen(ctx context.Context, p FlowReopenParams, now time.Time) (*record.FlowExecution, error)
	// FlowSweep deletes up to limit closed executions whose RetainUntil is
	// before now, with their histories, and returns how many.
	FlowSweep(ctx context.Context, now time.Time, limit int) (int, error)
}
