package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Durable execution. Every write below is one transaction on the single
// writer connection (BEGIN IMMEDIATE), so the checks a commit makes (lease,
// history length, status) cannot be overtaken by another writer before its
// writes land: the single writer is the lock. Times are microseconds; NULL
// is the zero time.

const flowExecCols = `id, project, workflow, function, run, status, input, output, error, trace_id,
	parent_id, parent_step, history_len, created_at, updated_at, closed_at, retain_until`

// flowEventCols is the number of bound values per row of an event insert.
const flowEventCols = 8

// nullMicros stores t, or NULL for the zero time.
func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// FlowStart creates an execution with its first events and its task.
func (s *Store) FlowStart(ctx context.Context, p store.FlowStartParams, now time.Time) (*record.FlowExecution, bool, error) {
	if p.Execution.ID == "" {
		return nil, false, errors.New("start execution: empty id")
	}
	var exec *record.FlowExecution
	created := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		created, err = flowInsert(ctx, tx, p, now)
		if err != nil {
			return err
		}
		exec, err = flowGet(ctx, tx, p.Execution.ID)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("start execution %s: %w", p.Execution.ID, err)
	}
	return exec, created, nil
}

// FlowStartBatch implements store.Flow.
func (s *Store) FlowStartBatch(ctx context.Context, ps []store.FlowStartParams, now time.Time) ([]store.FlowStarted, error) {
	out := make([]store.FlowStarted, len(ps))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, p := range ps {
			if p.Execution.ID == "" {
				return errors.New("start execution: empty id")
			}
			created, err := flowInsert(ctx, tx, p, now)
			if err != nil {
				return fmt.Errorf("start execution %s: %w", p.Execution.ID, err)
			}
			exec, err := flowGet(ctx, tx, p.Execution.ID)
			if err != nil {
				return fmt.Errorf("start execution %s: %w", p.Execution.ID, err)
			}
			out[i] = store.FlowStarted{Execution: exec, Created: created}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// flowInsert creates the execution of p with its events and task unless
// its id exists, and reports whether it did.
func flowInsert(ctx context.Context, tx *sql.Tx, p store.FlowStartParams, now time.Time) (bool, error) {
	e := p.Execution
	res, err := tx.ExecContext(ctx, `INSERT INTO flow_executions (`+flowExecCols+`)
		VALUES (?, ?, ?, ?, 1, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, ?, NULL, NULL)
		ON CONFLICT (id) DO NOTHING`,
		e.ID, cleanText(e.Project), cleanText(e.Workflow), cleanText(e.Function), record.FlowRunning, e.Input,
		cleanText(e.TraceID), e.ParentID, e.ParentStep, len(p.Events), micros(now), micros(now))
	if err != nil {
		return false, fmt.Errorf("insert execution: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if err := insertFlowEvents(ctx, tx, e.ID, 1, 0, p.Events, now); err != nil {
		return false, err
	}
	// Zero DueAt is now. A task created held has a due time anyway:
	// should its holder die, it is claimed again when the lease runs out.
	due := p.DueAt
	if due.IsZero() {
		due = now
	}
	attempts := 0
	var leaseUntil any
	if p.Lease != "" {
		attempts = 1
		leaseUntil = micros(p.LeaseUntil)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts) VALUES (?, ?, ?, ?, ?)`,
		e.ID, micros(due), p.Lease, leaseUntil, attempts); err != nil {
		return false, fmt.Errorf("insert task: %w", err)
	}
	return true, nil
}

// insertFlowEvents appends events to run of id with Seq from+1, ...
func insertFlowEvents(ctx context.Context, tx *sql.Tx, id string, run, from int, events []record.FlowEvent, now time.Time) error {
	for start := 0; start < len(events); start += insertChunk {
		chunk := events[start:min(start+insertChunk, len(events))]
		args := make([]any, 0, len(chunk)*flowEventCols)
		for i, ev := range chunk {
			at := ev.Time
			if at.IsZero() {
				at = now
			}
			args = append(args, id, run, from+start+i+1, cleanText(ev.Type), ev.Step, cleanText(ev.Name), ev.Data, micros(at))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flow_history (execution_id, run, seq, type, step, name, data, time) VALUES `+
			placeholders(len(chunk), flowEventCols), args...); err != nil {
			return fmt.Errorf("append events to run %d: %w", run, err)
		}
	}
	return nil
}

// FlowCommitBatch applies commits in one transaction.
func (s *Store) FlowCommitBatch(ctx context.Context, commits []store.FlowCommit, now time.Time) []error {
	errs := make([]error, len(commits))
	if len(commits) == 0 {
		return errs
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for i, c := range commits {
			ok, err := flowCommit(ctx, tx, c, now)
			if err != nil {
				return fmt.Errorf("commit execution %s: %w", c.ExecutionID, err)
			}
			if !ok {
				errs[i] = fmt.Errorf("commit execution %s from seq %d: %w", c.ExecutionID, c.FromSeq, store.ErrLeaseLost)
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("commit %d executions: %w", len(commits), err)
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// flowCommit applies one commit; false means its lease or FromSeq check
// failed and nothing was written.
func flowCommit(ctx context.Context, tx *sql.Tx, c store.FlowCommit, now time.Time) (bool, error) {
	var lease, status string
	var run, historyLen int
	err := tx.QueryRowContext(ctx, `SELECT t.lease, e.status, e.run, e.history_len
		FROM flow_tasks t JOIN flow_executions e ON e.id = t.execution_id WHERE t.execution_id = ?`, c.ExecutionID).
		Scan(&lease, &status, &run, &historyLen)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check lease: %w", err)
	}
	if c.Lease == "" || lease != c.Lease || status != record.FlowRunning || historyLen != c.FromSeq {
		return false, nil
	}
	id := c.ExecutionID
	if err := insertFlowEvents(ctx, tx, id, run, historyLen, c.Events, now); err != nil {
		return false, err
	}
	historyLen += len(c.Events)
	if err := deleteInbox(ctx, tx, id, c.ConsumeInbox); err != nil {
		return false, err
	}
	for _, st := range c.Start {
		if st.Execution.ID == "" {
			return false, errors.New("start child: empty id")
		}
		if _, err := flowInsert(ctx, tx, st, now); err != nil {
			return false, fmt.Errorf("start child %s: %w", st.Execution.ID, err)
		}
	}
	for _, m := range c.Send {
		if _, err := flowSend(ctx, tx, m, now); err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrClosed) {
			return false, err
		}
	}
	switch {
	case c.Close != nil:
		if err := flowClose(ctx, tx, id, historyLen, *c.Close, now); err != nil {
			return false, err
		}
	case c.NewRun != nil:
		if _, err := tx.ExecContext(ctx, `UPDATE flow_executions SET run = ?, input = ?, history_len = ?, updated_at = ? WHERE id = ?`,
			run+1, c.NewRun.Input, len(c.NewRun.Events), micros(now), id); err != nil {
			return false, fmt.Errorf("start run %d: %w", run+1, err)
		}
		if err := insertFlowEvents(ctx, tx, id, run+1, 0, c.NewRun.Events, now); err != nil {
			return false, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE flow_tasks SET due_at = ?, lease = '', lease_until = NULL, attempts = 0
			WHERE execution_id = ?`, micros(now), id); err != nil {
			return false, fmt.Errorf("release task: %w", err)
		}
	case c.Release != nil:
		if err := setHistoryLen(ctx, tx, id, historyLen, now); err != nil {
			return false, err
		}
		// Due now if a message came that the holder has not seen: its
		// sender found the task held and left waking it to us. Messages
		// it saw and left (a signal nobody waits for yet) do not wake it.
		if _, err := tx.ExecContext(ctx, `UPDATE flow_tasks SET lease = '', lease_until = NULL, attempts = 0,
			due_at = CASE WHEN EXISTS (SELECT 1 FROM flow_inbox WHERE execution_id = ?1 AND id > ?4) THEN min(?2, coalesce(?3, ?2)) ELSE ?3 END
			WHERE execution_id = ?1`, id, micros(now), nullMicros(c.Release.DueAt), c.Release.InboxSeen); err != nil {
			return false, fmt.Errorf("release task: %w", err)
		}
	default:
		if err := setHistoryLen(ctx, tx, id, historyLen, now); err != nil {
			return false, err
		}
		if !c.LeaseUntil.IsZero() {
			if _, err := tx.ExecContext(ctx, `UPDATE flow_tasks SET lease_until = ? WHERE execution_id = ?`, micros(c.LeaseUntil), id); err != nil {
				return false, fmt.Errorf("extend lease: %w", err)
			}
		}
	}
	return true, nil
}

func setHistoryLen(ctx context.Context, tx *sql.Tx, id string, n int, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE flow_executions SET history_len = ?, updated_at = ? WHERE id = ?`, n, micros(now), id); err != nil {
		return fmt.Errorf("update execution: %w", err)
	}
	return nil
}

// deleteInbox deletes the messages ids of execution id.
func deleteInbox(ctx context.Context, tx *sql.Tx, id string, ids []int64) error {
	for start := 0; start < len(ids); start += insertChunk {
		chunk := ids[start:min(start+insertChunk, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, id)
		for _, m := range chunk {
			args = append(args, m)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM flow_inbox WHERE execution_id = ? AND id IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)`, args...); err != nil {
			return fmt.Errorf("consume inbox: %w", err)
		}
	}
	return nil
}

// flowClose finishes execution id, whose history now holds historyLen
// events: its task and inbox go.
func flowClose(ctx context.Context, tx *sql.Tx, id string, historyLen int, c store.FlowClose, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE flow_executions SET status = ?, output = ?, error = ?, history_len = ?,
		updated_at = ?, closed_at = ?, retain_until = ? WHERE id = ?`,
		c.Status, c.Output, c.Error, historyLen, micros(now), micros(now), micros(c.RetainUntil), id); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM flow_tasks WHERE execution_id = ?`, id); err != nil {
		return fmt.Errorf("close: delete task: %w", err)
	}
	// A failed execution keeps the signals it had not consumed: a
	// restart from the failure uses them.
	if _, err := tx.ExecContext(ctx, `DELETE FROM flow_inbox WHERE execution_id = ? AND (kind <> ? OR ? <> ?)`,
		id, record.InboxSignal, c.Status, record.FlowFailed); err != nil {
		return fmt.Errorf("close: delete inbox: %w", err)
	}
	return nil
}

// FlowClaim leases up to limit due tasks to owner.
func (s *Store) FlowClaim(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]record.FlowTask, error) {
	if limit <= 0 {
		return nil, nil
	}
	token, err := receiptToken()
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	type claimed struct {
		task record.FlowTask
		due  int64
	}
	var out []claimed
	err = s.tx(ctx, func(tx *sql.Tx) error {
		// Each lease is the claim's random token and the execution id,
		// so no two claims ever hand out the same lease.
		rows, err := tx.QueryContext(ctx, `UPDATE flow_tasks SET lease = ?1 || execution_id, lease_until = ?2, attempts = attempts + 1
			WHERE execution_id IN (SELECT execution_id FROM flow_tasks
				WHERE due_at <= ?3 AND (lease = '' OR lease_until <= ?3) ORDER BY due_at, execution_id LIMIT ?4)
			RETURNING execution_id, lease, lease_until, attempts, due_at`,
			cleanText(owner)+"/"+token, micros(now.Add(leaseFor)), micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claimed
			var until int64
			if err := rows.Scan(&c.task.ExecutionID, &c.task.Lease, &until, &c.task.Attempts, &c.due); err != nil {
				return err
			}
			c.task.LeaseUntil = fromMicros(until)
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	// RETURNING follows no ORDER BY: hand them out oldest due first.
	sort.Slice(out, func(i, j int) bool {
		if out[i].due != out[j].due {
			return out[i].due < out[j].due
		}
		return out[i].task.ExecutionID < out[j].task.ExecutionID
	})
	tasks := make([]record.FlowTask, len(out))
	for i, c := range out {
		tasks[i] = c.task
	}
	if len(tasks) == 0 {
		return nil, nil
	}
	return tasks, nil
}

// FlowRenew extends held leases to until.
func (s *Store) FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error) {
	var lost []string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		lost = nil
		for _, h := range held {
			res, err := tx.ExecContext(ctx, `UPDATE flow_tasks SET lease_until = ? WHERE execution_id = ? AND lease = ? AND lease <> ''`,
				micros(until), h.ExecutionID, h.Lease)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if n == 0 {
				lost = append(lost, h.ExecutionID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("renew %d leases: %w", len(held), err)
	}
	return lost, nil
}

// FlowNextDue is the earliest time a task becomes claimable: the due time
// of a task not held, and for a held one the later of its due time and
// the end of its lease (a holder that died leaves its task to be claimed
// then).
func (s *Store) FlowNextDue(ctx context.Context) (time.Time, bool, error) {
	var free, held sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT
		(SELECT due_at FROM flow_tasks WHERE due_at IS NOT NULL AND lease = '' ORDER BY due_at LIMIT 1),
		(SELECT min(max(due_at, lease_until)) FROM flow_tasks WHERE lease <> '' AND due_at IS NOT NULL)`).Scan(&free, &held)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due task: %w", err)
	}
	switch {
	case free.Valid && held.Valid:
		return fromMicros(min(free.Int64, held.Int64)), true, nil
	case free.Valid:
		return fromMicros(free.Int64), true, nil
	case held.Valid:
		return fromMicros(held.Int64), true, nil
	}
	return time.Time{}, false, nil
}

func scanFlowExec(sc scanner) (*record.FlowExecution, error) {
	var e record.FlowExecution
	var created, updated int64
	var closed, retain sql.NullInt64
	if err := sc.Scan(&e.ID, &e.Project, &e.Workflow, &e.Function, &e.Run, &e.Status, &e.Input, &e.Output, &e.Error,
		&e.TraceID, &e.ParentID, &e.ParentStep, &e.HistoryLen, &created, &updated, &closed, &retain); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	e.ClosedAt, e.RetainUntil = fromNullMicros(closed), fromNullMicros(retain)
	return &e, nil
}

type queryRower interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func flowGet(ctx context.Context, q queryRower, id string) (*record.FlowExecution, error) {
	e, err := scanFlowExec(q.QueryRowContext(ctx, `SELECT `+flowExecCols+` FROM flow_executions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	return e, err
}

// FlowGet returns one execution.
func (s *Store) FlowGet(ctx context.Context, id string) (*record.FlowExecution, error) {
	e, err := flowGet(ctx, s.r, id)
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// FlowList lists executions, newest first.
func (s *Store) FlowList(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	for _, f := range []struct{ col, v string }{
		{"project", p.Project}, {"workflow", p.Workflow}, {"status", p.Status}, {"parent_id", p.ParentID},
	} {
		if f.v != "" {
			where = append(where, f.col+" = ?")
			args = append(args, f.v)
		}
	}
	if p.Before != "" {
		var created int64
		err := s.r.QueryRowContext(ctx, `SELECT created_at FROM flow_executions WHERE id = ?`, p.Before).Scan(&created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("list executions before %s: execution %s: %w", p.Before, p.Before, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		where = append(where, "(created_at < ? OR (created_at = ? AND id < ?))")
		args = append(args, created, created, p.Before)
	}
	q := `SELECT ` + flowExecCols + ` FROM flow_executions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	defer rows.Close()
	var out []record.FlowExecution
	for rows.Next() {
		e, err := scanFlowExec(rows)
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		out = append(out, *e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	return out, nil
}

// FlowHistory returns events of one run after afterSeq.
func (s *Store) FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error) {
	lim := int64(limit)
	if limit <= 0 {
		lim = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, type, step, name, data, time FROM flow_history
		WHERE execution_id = ? AND run = ? AND seq > ? ORDER BY seq LIMIT ?`, id, run, afterSeq, lim)
	if err != nil {
		return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
	}
	defer rows.Close()
	var out []record.FlowEvent
	for rows.Next() {
		var ev record.FlowEvent
		var at int64
		if err := rows.Scan(&ev.Seq, &ev.Type, &ev.Step, &ev.Name, &ev.Data, &at); err != nil {
			return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
		}
		ev.Time = fromMicros(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
	}
	if len(out) == 0 {
		if _, err := flowGet(ctx, s.r, id); err != nil {
			return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
		}
	}
	return out, nil
}

// FlowInboxList returns an execution's waiting messages, oldest first.
func (s *Store) FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, execution_id, kind, name, data, time FROM flow_inbox
		WHERE execution_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
	}
	defer rows.Close()
	var out []record.FlowInbox
	for rows.Next() {
		var m record.FlowInbox
		var at int64
		if err := rows.Scan(&m.ID, &m.ExecutionID, &m.Kind, &m.Name, &m.Data, &at); err != nil {
			return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
		}
		m.Time = fromMicros(at)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
	}
	if len(out) == 0 {
		if _, err := flowGet(ctx, s.r, id); err != nil {
			return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
		}
	}
	return out, nil
}

// FlowSend puts a message in a running execution's inbox.
func (s *Store) FlowSend(ctx context.Context, m record.FlowInbox, now time.Time) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		id, err = flowSend(ctx, tx, m, now)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrClosed) {
			return 0, err // already names the execution and its state
		}
		return 0, fmt.Errorf("send %s %q to execution %s: %w", m.Kind, m.Name, m.ExecutionID, err)
	}
	return id, nil
}

// flowSend stores m, stamped now, and makes its execution's task due now
// unless it is due earlier; a held task keeps its lease (its holder finds
// the message when it releases).
func flowSend(ctx context.Context, tx *sql.Tx, m record.FlowInbox, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE flow_tasks SET due_at = ?1 WHERE execution_id = ?2 AND (due_at IS NULL OR due_at > ?1)`,
		micros(now), m.ExecutionID)
	if err != nil {
		return 0, fmt.Errorf("wake task: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 0 {
		if err := requireRunning(ctx, tx, m.ExecutionID); err != nil {
			return 0, err
		}
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO flow_inbox (execution_id, kind, name, data, time) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		m.ExecutionID, cleanText(m.Kind), cleanText(m.Name), m.Data, micros(now)).Scan(&id); err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	return id, nil
}

// requireRunning returns ErrNotFound or ErrClosed unless execution id has
// a task (is running).
func requireRunning(ctx context.Context, tx *sql.Tx, id string) error {
	var status string
	var task sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT e.status, t.execution_id FROM flow_executions e
		LEFT JOIN flow_tasks t ON t.execution_id = e.id WHERE e.id = ?`, id).Scan(&status, &task)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	if !task.Valid || status != record.FlowRunning {
		return fmt.Errorf("execution %s is %s: %w", id, status, store.ErrClosed)
	}
	return nil
}

// FlowTerminate closes a running execution without its code.
func (s *Store) FlowTerminate(ctx context.Context, id string, ev record.FlowEvent, c store.FlowClose, now time.Time) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := requireRunning(ctx, tx, id); err != nil {
			return err
		}
		var run, historyLen int
		if err := tx.QueryRowContext(ctx, `SELECT run, history_len FROM flow_executions WHERE id = ?`, id).Scan(&run, &historyLen); err != nil {
			return err
		}
		if err := insertFlowEvents(ctx, tx, id, run, historyLen, []record.FlowEvent{ev}, now); err != nil {
			return err
		}
		return flowClose(ctx, tx, id, historyLen+1, c, now)
	})
	if err != nil {
		return fmt.Errorf("terminate execution %s: %w", id, err)
	}
	return nil
}

// FlowReopen makes a closed execution running again.
func (s *Store) FlowReopen(ctx context.Context, p store.FlowReopenParams, now time.Time) (*record.FlowExecution, error) {
	var exec *record.FlowExecution
	err := s.tx(ctx, func(tx *sql.Tx) error {
		e, err := flowGet(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		if e.Status == record.FlowRunning {
			return fmt.Errorf("execution %s: %w", p.ID, store.ErrRunning)
		}
		run, historyLen, input := e.Run, e.HistoryLen, e.Input
		if err := insertFlowEvents(ctx, tx, p.ID, run, historyLen, p.Events, now); err != nil {
			return err
		}
		historyLen += len(p.Events)
		if p.NewRun != nil {
			run, historyLen, input = run+1, len(p.NewRun.Events), p.NewRun.Input
			if err := insertFlowEvents(ctx, tx, p.ID, run, 0, p.NewRun.Events, now); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE flow_executions SET status = ?, run = ?, input = ?, output = NULL, error = NULL,
			history_len = ?, updated_at = ?, closed_at = NULL, retain_until = NULL WHERE id = ?`,
			record.FlowRunning, run, input, historyLen, micros(now), p.ID); err != nil {
			return fmt.Errorf("reopen: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts) VALUES (?, ?, '', NULL, 0)`,
			p.ID, micros(now)); err != nil {
			return fmt.Errorf("insert task: %w", err)
		}
		exec, err = flowGet(ctx, tx, p.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reopen execution %s: %w", p.ID, err)
	}
	return exec, nil
}

// FlowSweep deletes up to limit (0: 1000) closed executions retained until
// before now, their histories with them.
func (s *Store) FlowSweep(ctx context.Context, now time.Time, limit int) (int, error) {
	if limit <= 0 {
		limit = 1000
	}
	var n int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM flow_executions WHERE id IN (SELECT id FROM flow_executions
			WHERE retain_until IS NOT NULL AND retain_until < ? AND status <> ? ORDER BY retain_until LIMIT ?)`,
			micros(now), record.FlowRunning, limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sweep executions: %w", err)
	}
	return int(n), nil
}
