package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Durable execution. Every write to a running execution first takes its
// lock (FlowLock: the row lock of its task on PostgreSQL, the single writer
// on SQLite) and only then reads its state, so the checks of a commit
// (lease, history length, status) cannot be overtaken before its writes
// land. A send that meets a holder releasing its task therefore either
// lands before the release, which then finds the message and leaves the
// task due, or after it, and makes the released task due itself. A closed
// execution has no task row; a reopen, which recreates it, locks the
// execution row (FlowLockExecution).

// FlowQueries are the statements on executions, their histories, tasks and
// inboxes.
type FlowQueries interface {
	// FlowLock takes the locks of the tasks of ids (PostgreSQL: row locks,
	// in id order so that two batches never deadlock) and returns the
	// state of the executions that have a task, read after locking.
	FlowLock(ctx context.Context, ids []string) ([]FlowState, error)
	// FlowLockExecution locks and returns an execution (a closed one has
	// no task to lock).
	FlowLockExecution(ctx context.Context, id string) (*record.FlowExecution, error)
	// FlowInsert creates the execution of n with its events and task,
	// unless its id exists, and reports whether it did.
	FlowInsert(ctx context.Context, n FlowNew) (bool, error)
	FlowGet(ctx context.Context, id string) (*record.FlowExecution, error)
	FlowCreatedAt(ctx context.Context, id string) (time.Time, error)
	// FlowList applies p's filters (p.Limit set; p.Before, when set, is
	// the execution created at before), newest first, ids in byte order.
	FlowList(ctx context.Context, p store.FlowListParams, before time.Time) ([]record.FlowExecution, error)
	// FlowHistory returns events of one run with Seq > afterSeq in order,
	// at most limit (0: all).
	FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error)
	FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error)
	// FlowInboxInsert stores a message and returns its id.
	FlowInboxInsert(ctx context.Context, m record.FlowInbox) (int64, error)
	// FlowClaim leases up to limit tasks due at now, not held or with
	// their lease run out, oldest due first, to prefix followed by the
	// execution id, until until, and counts the attempt. PostgreSQL skips
	// tasks locked by a commit in progress.
	FlowClaim(ctx context.Context, prefix string, until, now time.Time, limit int) ([]FlowClaimed, error)
	// FlowRenew extends the leases still held to until and returns the
	// execution ids of those.
	FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error)
	// FlowNextDue returns the earliest due time of a task not held and,
	// of the held ones, the earliest later of due time and lease end;
	// zero for none.
	FlowNextDue(ctx context.Context) (free, held time.Time, err error)
	// FlowSweep deletes up to limit closed executions retained until
	// before now.
	FlowSweep(ctx context.Context, now time.Time, limit int) (int64, error)
	// FlowCount counts executions by project, workflow and status.
	FlowCount(ctx context.Context) ([]store.FlowCount, error)
	// FlowWrite runs fn with the writes of one operation, inside InTx, and
	// returns the first error: PostgreSQL pipelines them as one batch sent
	// when fn returns, SQLite runs each at once on the single writer. An
	// error of fn itself sends nothing more.
	FlowWrite(ctx context.Context, fn func(w FlowWriter) error) error
}

// FlowPipeline is implemented by a backend's read Queries (Driver.Read)
// when it can run a commit or a batch of starts in fewer round trips than
// InTx with one statement at a time: PostgreSQL pipelines them. Backends
// without it (SQLite, in process) take the InTx path; both write the same.
type FlowPipeline interface {
	// FlowLockWrite runs, in one transaction, FlowLock of ids and then
	// write with the states it found; the transaction commits when write
	// returns nil and the writes succeed, and rolls back otherwise.
	FlowLockWrite(ctx context.Context, ids []string, write func(locked []FlowState, w FlowWriter) error) error
	// FlowInsertBatch is FlowInsert of each of ns in one transaction,
	// failing as a whole; created[i] reports whether ns[i] was created.
	FlowInsertBatch(ctx context.Context, ns []FlowNew) (created []bool, err error)
}

// FlowWriter is the statements an operation writes, in order, without
// reading their results; FlowWrite reports their errors.
type FlowWriter interface {
	// Start is FlowInsert for a child: an id that exists is left alone.
	Start(n FlowNew)
	// Events appends events, numbered already, to run of execution id.
	Events(id string, run int, events []record.FlowEvent)
	// Send puts m in its execution's inbox unless that has no task
	// (unknown or closed).
	Send(m record.FlowInbox)
	InboxDelete(id string, ids []int64)
	// InboxClear deletes the inbox of id but messages of keepKind ("":
	// none kept).
	InboxClear(id, keepKind string)
	// Wake makes the task of id due at now unless due earlier; a held
	// task keeps its lease.
	Wake(id string, now time.Time)
	ExecUpdate(id string, historyLen int, now time.Time)
	ExecNewRun(id string, run int, input []byte, historyLen int, now time.Time)
	ExecClose(id string, historyLen int, c store.FlowClose, now time.Time)
	ExecReopen(id string, run int, input []byte, historyLen int, now time.Time)
	// TaskInsert creates a task not held, due at due.
	TaskInsert(id string, due time.Time)
	TaskDelete(id string)
	// TaskReset clears the lease and attempts of a task, due at due.
	TaskReset(id string, due time.Time)
	// TaskRelease clears the lease and attempts of a task: due at now if
	// the inbox holds a message with an id above inboxSeen, unless due is
	// earlier, else at due (zero: when a message comes).
	TaskRelease(id string, due, now time.Time, inboxSeen int64)
	TaskExtend(id string, until time.Time)
}

// FlowState is a running execution as a write finds it under its lock.
type FlowState struct {
	ExecutionID string
	Lease       string
	Status      string
	Run         int
	HistoryLen  int
}

// FlowNew is an execution to create, as the rules prepared it: text
// cleaned, events numbered from 1 with their times, DueAt set, LeaseUntil
// zero unless Lease is set.
type FlowNew struct {
	store.FlowStartParams
	Attempts int
	Now      time.Time
}

// FlowClaimed is one claimed task and the due time it was claimed at.
type FlowClaimed struct {
	Task record.FlowTask
	Due  time.Time
}

// flowTime is t as both backends store it: UTC, whole microseconds.
func flowTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// flowNew checks and prepares p for FlowInsert.
func flowNew(p store.FlowStartParams, now time.Time) (FlowNew, error) {
	if p.Execution.ID == "" {
		return FlowNew{}, errors.New("empty id")
	}
	e := &p.Execution
	e.Project, e.Workflow, e.Function, e.TraceID = CleanText(e.Project), CleanText(e.Workflow), CleanText(e.Function), CleanText(e.TraceID)
	p.Events = flowEvents(p.Events, 0, now)
	// A task created held has a due time too: should its holder die, it
	// is claimed again when the lease runs out.
	if p.DueAt.IsZero() {
		p.DueAt = now
	}
	n := FlowNew{FlowStartParams: p, Now: now}
	if p.Lease != "" {
		n.Attempts = 1
	} else {
		n.LeaseUntil = time.Time{}
	}
	return n, nil
}

// flowEvents returns events numbered from+1, ..., with their text cleaned
// and a zero time set to now.
func flowEvents(events []record.FlowEvent, from int, now time.Time) []record.FlowEvent {
	if len(events) == 0 {
		return nil
	}
	out := make([]record.FlowEvent, len(events))
	for i, ev := range events {
		ev.Seq, ev.Type, ev.Name = from+i+1, CleanText(ev.Type), CleanText(ev.Name)
		if ev.Time.IsZero() {
			ev.Time = now
		} else {
			ev.Time = flowTime(ev.Time)
		}
		out[i] = ev
	}
	return out
}

// appendEvents writes events after the from events run already has.
func appendEvents(w FlowWriter, id string, run, from int, events []record.FlowEvent, now time.Time) {
	if len(events) > 0 {
		w.Events(id, run, flowEvents(events, from, now))
	}
}

// flowMessage is m as stored: text cleaned, stamped now.
func flowMessage(m record.FlowInbox, now time.Time) record.FlowInbox {
	m.Kind, m.Name, m.Time = CleanText(m.Kind), CleanText(m.Name), now
	return m
}

// FlowStart creates an execution with its first events and its task.
func (s *Store) FlowStart(ctx context.Context, p store.FlowStartParams, now time.Time) (*record.FlowExecution, bool, error) {
	defer s.op("FlowStart", time.Now())
	n, err := flowNew(p, flowTime(now))
	if err != nil {
		return nil, false, fmt.Errorf("start execution: %w", err)
	}
	var res store.FlowStarted
	// One write, and a read only of an execution that existed: no
	// transaction around them.
	err = s.d.Write(ctx, func(q Queries) error {
		created, err := q.FlowInsert(ctx, n)
		if err != nil {
			return fmt.Errorf("start execution %s: %w", n.Execution.ID, err)
		}
		res, err = flowStarted(ctx, q, n, created)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	return res.Execution, res.Created, nil
}

// FlowStartBatch implements store.Flow: one transaction, failing as a whole.
// A created execution is returned as written, without reading it back;
// only an id that existed is read.
func (s *Store) FlowStartBatch(ctx context.Context, ps []store.FlowStartParams, now time.Time) ([]store.FlowStarted, error) {
	defer s.op("FlowStartBatch", time.Now())
	now = flowTime(now)
	ns := make([]FlowNew, len(ps))
	for i, p := range ps {
		n, err := flowNew(p, now)
		if err != nil {
			return nil, fmt.Errorf("start execution: %w", err)
		}
		ns[i] = n
	}
	out := make([]store.FlowStarted, len(ps))
	if pl, ok := s.d.Read().(FlowPipeline); ok {
		created, err := pl.FlowInsertBatch(ctx, ns)
		if err != nil {
			return nil, fmt.Errorf("start %d executions: %w", len(ns), err)
		}
		for i, n := range ns {
			if out[i], err = flowStarted(ctx, s.d.Read(), n, created[i]); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	err := s.d.InTx(ctx, func(q Queries) error {
		for i, n := range ns {
			created, err := q.FlowInsert(ctx, n)
			if err != nil {
				return fmt.Errorf("start execution %s: %w", n.Execution.ID, err)
			}
			if out[i], err = flowStarted(ctx, q, n, created); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// flowStarted is the result of one start: the execution as n created it,
// or the existing one read through q.
func flowStarted(ctx context.Context, q Queries, n FlowNew, created bool) (store.FlowStarted, error) {
	if created {
		e := n.Execution
		e.Run, e.Status, e.HistoryLen = 1, record.FlowRunning, len(n.Events)
		e.Output, e.Error = nil, nil
		e.CreatedAt, e.UpdatedAt, e.ClosedAt, e.RetainUntil = n.Now, n.Now, time.Time{}, time.Time{}
		return store.FlowStarted{Execution: &e, Created: true}, nil
	}
	exec, err := q.FlowGet(ctx, n.Execution.ID)
	if err != nil {
		return store.FlowStarted{}, fmt.Errorf("start execution %s: %w", n.Execution.ID, err)
	}
	return store.FlowStarted{Execution: exec}, nil
}

// FlowCommitBatch applies commits in one transaction: the locks of every
// execution involved are taken at once, then the writes of all commits go
// in one FlowWrite.
func (s *Store) FlowCommitBatch(ctx context.Context, commits []store.FlowCommit, now time.Time) []error {
	defer s.op("FlowCommitBatch", time.Now())
	errs := make([]error, len(commits))
	if len(commits) == 0 {
		return errs
	}
	now = flowTime(now)
	var ids []string
	for _, c := range commits {
		ids = append(ids, c.ExecutionID)
		for _, m := range c.Send {
			ids = append(ids, m.ExecutionID)
		}
	}
	sort.Strings(ids)
	ids = slices.Compact(ids)
	write := func(locked []FlowState, w FlowWriter) error {
		state := make(map[string]*FlowState, len(locked))
		for i := range locked {
			state[locked[i].ExecutionID] = &locked[i]
		}
		for i, c := range commits {
			st := state[c.ExecutionID]
			if st == nil || st.Status != record.FlowRunning || c.Lease == "" || st.Lease != c.Lease || st.HistoryLen != c.FromSeq {
				errs[i] = fmt.Errorf("commit execution %s from seq %d: %w", c.ExecutionID, c.FromSeq, store.ErrLeaseLost)
				continue
			}
			if err := flowCommit(w, c, st, now); err != nil {
				return fmt.Errorf("commit execution %s: %w", c.ExecutionID, err)
			}
		}
		return nil
	}
	var err error
	if pl, ok := s.d.Read().(FlowPipeline); ok {
		err = pl.FlowLockWrite(ctx, ids, write)
	} else {
		err = s.d.InTx(ctx, func(q Queries) error {
			locked, err := q.FlowLock(ctx, ids)
			if err != nil {
				return fmt.Errorf("lock tasks: %w", err)
			}
			return q.FlowWrite(ctx, func(w FlowWriter) error { return write(locked, w) })
		})
	}
	if err != nil {
		err = fmt.Errorf("commit %d executions: %w", len(commits), err)
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// flowCommit writes one commit that passed its checks and moves st to the
// state it leaves, which a later commit of the batch is checked against.
func flowCommit(w FlowWriter, c store.FlowCommit, st *FlowState, now time.Time) error {
	id := c.ExecutionID
	appendEvents(w, id, st.Run, st.HistoryLen, c.Events, now)
	st.HistoryLen += len(c.Events)
	if len(c.ConsumeInbox) > 0 {
		w.InboxDelete(id, c.ConsumeInbox)
	}
	for _, p := range c.Start {
		n, err := flowNew(p, now)
		if err != nil {
			return fmt.Errorf("start child: %w", err)
		}
		w.Start(n)
	}
	for _, m := range c.Send {
		w.Send(flowMessage(m, now))
		w.Wake(m.ExecutionID, now)
	}
	switch {
	case c.Close != nil:
		flowClose(w, id, st.HistoryLen, *c.Close, now)
		st.Status, st.Lease = c.Close.Status, ""
	case c.NewRun != nil:
		st.Run, st.HistoryLen, st.Lease = st.Run+1, len(c.NewRun.Events), ""
		w.ExecNewRun(id, st.Run, c.NewRun.Input, st.HistoryLen, now)
		appendEvents(w, id, st.Run, 0, c.NewRun.Events, now)
		w.TaskReset(id, now)
	case c.Release != nil:
		st.Lease = ""
		w.ExecUpdate(id, st.HistoryLen, now)
		// Due now if a message came that the holder has not seen: its
		// sender found the task held and left waking it to us. Messages
		// it saw and left (a signal nobody waits for yet) do not wake it.
		w.TaskRelease(id, c.Release.DueAt, now, c.Release.InboxSeen)
	default:
		w.ExecUpdate(id, st.HistoryLen, now)
		if !c.LeaseUntil.IsZero() {
			w.TaskExtend(id, c.LeaseUntil)
		}
	}
	return nil
}

// flowClose finishes execution id, whose history then holds historyLen
// events: its task and inbox go, but a failed execution keeps the signals
// it had not consumed, for a restart from the failure.
func flowClose(w FlowWriter, id string, historyLen int, c store.FlowClose, now time.Time) {
	w.ExecClose(id, historyLen, c, now)
	w.TaskDelete(id)
	keep := ""
	if c.Status == record.FlowFailed {
		keep = record.InboxSignal
	}
	w.InboxClear(id, keep)
}

// flowRunning takes the lock of execution id and returns its state, or
// ErrNotFound, or ErrClosed when it is not running.
func flowRunning(ctx context.Context, q Queries, id string) (*FlowState, error) {
	locked, err := q.FlowLock(ctx, []string{id})
	if err != nil {
		return nil, fmt.Errorf("lock task: %w", err)
	}
	if len(locked) == 1 && locked[0].Status == record.FlowRunning {
		return &locked[0], nil
	}
	e, err := q.FlowGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("execution", id)
	}
	if err != nil {
		return nil, err
	}
	return nil, &store.ExecutionStateError{ID: id, Status: e.Status, Err: store.ErrClosed}
}

// FlowClaim leases up to limit due tasks to owner. Each lease is the
// claim's random token and the execution id, so no two claims ever hand
// out the same lease.
func (s *Store) FlowClaim(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]record.FlowTask, error) {
	defer s.op("FlowClaim", time.Now())
	if limit <= 0 {
		return nil, nil
	}
	token, err := leaseToken()
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	now = flowTime(now)
	var got []FlowClaimed
	err = s.d.Write(ctx, func(q Queries) (err error) {
		got, err = q.FlowClaim(ctx, CleanText(owner)+"/"+token, now.Add(leaseFor), now, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	// RETURNING follows no ORDER BY: hand them out oldest due first.
	sort.Slice(got, func(i, j int) bool {
		if !got[i].Due.Equal(got[j].Due) {
			return got[i].Due.Before(got[j].Due)
		}
		return got[i].Task.ExecutionID < got[j].Task.ExecutionID
	})
	return Rows(got, func(c FlowClaimed) record.FlowTask { return c.Task }), nil
}

// leaseToken returns the random part of one claim's leases.
func leaseToken() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b) + ".", nil
}

// FlowRenew extends held leases to until and returns the execution IDs of
// the leases lost.
func (s *Store) FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error) {
	defer s.op("FlowRenew", time.Now())
	if len(held) == 0 {
		return nil, nil
	}
	var kept []string
	err := s.d.Write(ctx, func(q Queries) (err error) {
		kept, err = q.FlowRenew(ctx, held, flowTime(until))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("renew %d leases: %w", len(held), err)
	}
	var lost []string
	for _, h := range held {
		if !slices.Contains(kept, h.ExecutionID) {
			lost = append(lost, h.ExecutionID)
		}
	}
	return lost, nil
}

// FlowNextDue is the earliest time a task becomes claimable: the due time
// of a task not held, and for a held one the later of its due time and
// the end of its lease (a holder that died leaves its task to be claimed
// then).
func (s *Store) FlowNextDue(ctx context.Context) (time.Time, bool, error) {
	defer s.op("FlowNextDue", time.Now())
	free, held, err := s.d.Read().FlowNextDue(ctx)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due task: %w", err)
	}
	switch {
	case free.IsZero() && held.IsZero():
		return time.Time{}, false, nil
	case free.IsZero() || !held.IsZero() && held.Before(free):
		return held, true, nil
	}
	return free, true, nil
}

// FlowCount counts executions by project, workflow and status.
func (s *Store) FlowCount(ctx context.Context) ([]store.FlowCount, error) {
	defer s.op("FlowCount", time.Now())
	cs, err := s.d.Read().FlowCount(ctx)
	if err != nil {
		return nil, fmt.Errorf("count workflow executions: %w", err)
	}
	return cs, nil
}

// FlowGet returns one execution.
func (s *Store) FlowGet(ctx context.Context, id string) (*record.FlowExecution, error) {
	defer s.op("FlowGet", time.Now())
	e, err := s.d.Read().FlowGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.NotFound("execution", id)
	}
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// FlowList lists executions, newest first (ids in byte order).
func (s *Store) FlowList(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	defer s.op("FlowList", time.Now())
	if p.Limit <= 0 {
		p.Limit = 100
	}
	q := s.d.Read()
	var before time.Time
	if p.Before != "" {
		var err error
		before, err = q.FlowCreatedAt(ctx, p.Before)
		if errors.Is(err, store.ErrNotFound) {
			return nil, store.NotFound("execution", p.Before)
		}
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
	}
	es, err := q.FlowList(ctx, p, before)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	return es, nil
}

// FlowHistory returns events of one run after afterSeq; an empty result
// tells an unknown execution (ErrNotFound) from a run without more events.
func (s *Store) FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error) {
	defer s.op("FlowHistory", time.Now())
	q := s.d.Read()
	evs, err := q.FlowHistory(ctx, id, run, afterSeq, limit)
	if err == nil && len(evs) == 0 {
		err = flowExists(ctx, q, id)
	}
	if err != nil {
		return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
	}
	return evs, nil
}

// FlowInboxList returns an execution's waiting messages, oldest first.
func (s *Store) FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error) {
	defer s.op("FlowInboxList", time.Now())
	q := s.d.Read()
	ms, err := q.FlowInboxList(ctx, id)
	if err == nil && len(ms) == 0 {
		err = flowExists(ctx, q, id)
	}
	if err != nil {
		return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
	}
	return ms, nil
}

// flowExists returns nil if execution id exists, else ErrNotFound naming it.
func flowExists(ctx context.Context, q Queries, id string) error {
	_, err := q.FlowGet(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.NotFound("execution", id)
	}
	return err
}

// FlowSend puts a message in a running execution's inbox and makes its
// task due now.
func (s *Store) FlowSend(ctx context.Context, m record.FlowInbox, now time.Time) (int64, error) {
	defer s.op("FlowSend", time.Now())
	now = flowTime(now)
	m = flowMessage(m, now)
	var id int64
	err := s.d.InTx(ctx, func(q Queries) error {
		if _, err := flowRunning(ctx, q, m.ExecutionID); err != nil {
			return err
		}
		var err error
		if id, err = q.FlowInboxInsert(ctx, m); err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		return q.FlowWrite(ctx, func(w FlowWriter) error { w.Wake(m.ExecutionID, now); return nil })
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrClosed) {
			return 0, err // already names the execution and its state
		}
		return 0, fmt.Errorf("send %s %q to execution %s: %w", m.Kind, m.Name, m.ExecutionID, err)
	}
	return id, nil
}

// FlowTerminate closes a running execution without its code.
func (s *Store) FlowTerminate(ctx context.Context, id string, ev record.FlowEvent, c store.FlowClose, now time.Time) error {
	defer s.op("FlowTerminate", time.Now())
	now = flowTime(now)
	err := s.d.InTx(ctx, func(q Queries) error {
		st, err := flowRunning(ctx, q, id)
		if err != nil {
			return err
		}
		return q.FlowWrite(ctx, func(w FlowWriter) error {
			appendEvents(w, id, st.Run, st.HistoryLen, []record.FlowEvent{ev}, now)
			flowClose(w, id, st.HistoryLen+1, c, now)
			return nil
		})
	})
	if err != nil {
		return store.Wrapf(err, "terminate execution %s", id)
	}
	return nil
}

// FlowReopen makes a closed execution running again.
func (s *Store) FlowReopen(ctx context.Context, p store.FlowReopenParams, now time.Time) (*record.FlowExecution, error) {
	defer s.op("FlowReopen", time.Now())
	now = flowTime(now)
	var exec *record.FlowExecution
	err := s.d.InTx(ctx, func(q Queries) error {
		e, err := q.FlowLockExecution(ctx, p.ID)
		if errors.Is(err, store.ErrNotFound) {
			return store.NotFound("execution", p.ID)
		}
		if err != nil {
			return err
		}
		if e.Status == record.FlowRunning {
			return &store.ExecutionStateError{ID: p.ID, Status: e.Status, Err: store.ErrRunning}
		}
		err = q.FlowWrite(ctx, func(w FlowWriter) error {
			run, historyLen, input := e.Run, e.HistoryLen, e.Input
			appendEvents(w, p.ID, run, historyLen, p.Events, now)
			historyLen += len(p.Events)
			if p.NewRun != nil {
				run, historyLen, input = run+1, len(p.NewRun.Events), p.NewRun.Input
				appendEvents(w, p.ID, run, 0, p.NewRun.Events, now)
			}
			w.ExecReopen(p.ID, run, input, historyLen, now)
			w.TaskInsert(p.ID, now)
			return nil
		})
		if err != nil {
			return fmt.Errorf("reopen: %w", err)
		}
		exec, err = q.FlowGet(ctx, p.ID)
		return err
	})
	if err != nil {
		return nil, store.Wrapf(err, "reopen execution %s", p.ID)
	}
	return exec, nil
}

// FlowSweep deletes up to limit (0: 1000) closed executions retained until
// before now, their histories with them.
func (s *Store) FlowSweep(ctx context.Context, now time.Time, limit int) (int, error) {
	defer s.op("FlowSweep", time.Now())
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := s.d.Write(ctx, func(q Queries) (err error) { n, err = q.FlowSweep(ctx, flowTime(now), limit); return err })
	if err != nil {
		return 0, fmt.Errorf("sweep executions: %w", err)
	}
	return int(n), nil
}
