package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// Durable execution. Several nodes share the tables, so each execution has
// a mutex: the row lock of its task (flow_tasks). Every write to a running
// execution (commit, send, terminate) first takes it with SELECT ... FOR
// UPDATE, several in id order (COLLATE "C") so two batches never deadlock,
// and only then reads the execution; claims skip locked tasks. A send that
// meets a holder releasing its task therefore either lands before the
// release, which then finds the message and leaves the task due, or after
// it, and makes the released task due itself. A closed execution has no
// task row, and a reopen, which recreates it, locks the execution row.

const flowExecCols = `id, project, workflow, function, run, status, input, output, error, trace_id,
	parent_id, parent_step, history_len, created_at, updated_at, closed_at, retain_until`

// flowTime is t as stored: UTC, whole microseconds.
func flowTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// nullTime stores t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = flowTime(t)
	return &t
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return utc(*t)
}

// insertEventsSQL appends events given as arrays; seq is $3 plus the
// element's position.
const insertEventsSQL = `INSERT INTO flow_history (execution_id, run, seq, type, step, name, data, time)
	SELECT $1, $2, $3 + u.o, u.t, u.st, u.n, u.d, u.tm
	FROM unnest($4::text[], $5::int[], $6::text[], $7::bytea[], $8::timestamptz[]) WITH ORDINALITY AS u(t, st, n, d, tm, o)`

// eventArgs are the arrays of insertEventsSQL.
func eventArgs(events []record.FlowEvent, now time.Time) []any {
	types := make([]string, len(events))
	steps := make([]int32, len(events))
	names := make([]string, len(events))
	data := make([][]byte, len(events))
	times := make([]time.Time, len(events))
	for i, ev := range events {
		types[i], steps[i], names[i], data[i] = cleanText(ev.Type), int32(ev.Step), cleanText(ev.Name), ev.Data
		times[i] = now
		if !ev.Time.IsZero() {
			times[i] = flowTime(ev.Time)
		}
	}
	return []any{types, steps, names, data, times}
}

func queueEvents(b *pgx.Batch, id string, run, from int, events []record.FlowEvent, now time.Time) {
	if len(events) == 0 {
		return
	}
	b.Queue(insertEventsSQL, append([]any{id, run, from}, eventArgs(events, now)...)...)
}

// startSQL creates an execution, its events and its task in one statement,
// unless the id exists; it returns the id only when it created it.
const startSQL = `WITH ins AS (
		INSERT INTO flow_executions (` + flowExecCols + `)
		VALUES ($1, $2, $3, $4, 1, 'running', $5, NULL, NULL, $6, $7, $8, $9, $10, $10, NULL, NULL)
		ON CONFLICT (id) DO NOTHING RETURNING id),
	ev AS (
		INSERT INTO flow_history (execution_id, run, seq, type, step, name, data, time)
		SELECT ins.id, 1, u.o, u.t, u.st, u.n, u.d, u.tm FROM ins,
			unnest($11::text[], $12::int[], $13::text[], $14::bytea[], $15::timestamptz[]) WITH ORDINALITY AS u(t, st, n, d, tm, o))
	INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts)
	SELECT id, $16, $17, $18, $19 FROM ins RETURNING execution_id`

// startArgs are the arguments of startSQL. A zero DueAt is now; a task
// created held has a due time too, so that it is claimed again should its
// holder die.
func startArgs(p store.FlowStartParams, now time.Time) []any {
	e := p.Execution
	due := p.DueAt
	if due.IsZero() {
		due = now
	}
	attempts := 0
	var leaseUntil *time.Time
	if p.Lease != "" {
		attempts = 1
		t := flowTime(p.LeaseUntil)
		leaseUntil = &t
	}
	args := []any{e.ID, cleanText(e.Project), cleanText(e.Workflow), cleanText(e.Function), e.Input,
		cleanText(e.TraceID), e.ParentID, e.ParentStep, len(p.Events), now}
	args = append(args, eventArgs(p.Events, now)...)
	return append(args, flowTime(due), p.Lease, leaseUntil, attempts)
}

// FlowStart creates an execution with its first events and its task.
func (s *Store) FlowStart(ctx context.Context, p store.FlowStartParams, now time.Time) (*record.FlowExecution, bool, error) {
	id := p.Execution.ID
	if id == "" {
		return nil, false, errors.New("start execution: empty id")
	}
	now = flowTime(now)
	var got string
	err := s.pool.QueryRow(ctx, startSQL, startArgs(p, now)...).Scan(&got)
	created := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, false, fmt.Errorf("start execution %s: %w", id, err)
	}
	exec, err := flowGet(ctx, s.pool, id)
	if err != nil {
		return nil, false, fmt.Errorf("start execution %s: %w", id, err)
	}
	return exec, created, nil
}

// FlowStartBatch implements store.Flow.
func (s *Store) FlowStartBatch(ctx context.Context, ps []store.FlowStartParams, now time.Time) ([]store.FlowStarted, error) {
	now = flowTime(now)
	out := make([]store.FlowStarted, len(ps))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for i, p := range ps {
			id := p.Execution.ID
			if id == "" {
				return errors.New("start execution: empty id")
			}
			var got string
			err := tx.QueryRow(ctx, startSQL, startArgs(p, now)...).Scan(&got)
			created := err == nil
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("start execution %s: %w", id, err)
			}
			exec, err := flowGet(ctx, tx, id)
			if err != nil {
				return fmt.Errorf("start execution %s: %w", id, err)
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

// flowState is what a batch knows of one locked execution.
type flowState struct {
	lease      string
	run        int
	historyLen int
	running    bool
}

// lockTasks takes the task row locks of ids in id order and returns the
// state of those that are running.
func lockTasks(ctx context.Context, tx pgx.Tx, ids []string) (map[string]*flowState, error) {
	rows, err := tx.Query(ctx, `SELECT execution_id, lease FROM flow_tasks WHERE execution_id = ANY($1)
		ORDER BY execution_id COLLATE "C" FOR UPDATE`, ids)
	if err != nil {
		return nil, fmt.Errorf("lock tasks: %w", err)
	}
	state := map[string]*flowState{}
	var locked []string
	for rows.Next() {
		var id string
		st := &flowState{}
		if err := rows.Scan(&id, &st.lease); err != nil {
			rows.Close()
			return nil, fmt.Errorf("lock tasks: %w", err)
		}
		state[id] = st
		locked = append(locked, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lock tasks: %w", err)
	}
	if len(locked) == 0 {
		return state, nil
	}
	// Read after locking: this statement's snapshot holds every write
	// made under the locks.
	rows, err = tx.Query(ctx, `SELECT id, status, run, history_len FROM flow_executions WHERE id = ANY($1)`, locked)
	if err != nil {
		return nil, fmt.Errorf("read executions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var run, n int
		if err := rows.Scan(&id, &status, &run, &n); err != nil {
			return nil, fmt.Errorf("read executions: %w", err)
		}
		st := state[id]
		st.run, st.historyLen, st.running = run, n, status == record.FlowRunning
	}
	return state, rows.Err()
}

// FlowCommitBatch applies commits in one transaction: one statement locks
// every task involved, then the writes of all commits go in one pipelined
// batch.
func (s *Store) FlowCommitBatch(ctx context.Context, commits []store.FlowCommit, now time.Time) []error {
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
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		state, err := lockTasks(ctx, tx, ids)
		if err != nil {
			return err
		}
		b := &pgx.Batch{}
		for i, c := range commits {
			st := state[c.ExecutionID]
			if st == nil || !st.running || c.Lease == "" || st.lease != c.Lease || st.historyLen != c.FromSeq {
				errs[i] = fmt.Errorf("commit execution %s from seq %d: %w", c.ExecutionID, c.FromSeq, store.ErrLeaseLost)
				continue
			}
			if err := queueCommit(b, c, st, now); err != nil {
				return fmt.Errorf("commit execution %s: %w", c.ExecutionID, err)
			}
		}
		if b.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		err = fmt.Errorf("commit %d executions: %w", len(commits), err)
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// queueCommit queues the writes of one commit that passed its checks and
// moves st to the state they leave.
func queueCommit(b *pgx.Batch, c store.FlowCommit, st *flowState, now time.Time) error {
	id := c.ExecutionID
	queueEvents(b, id, st.run, st.historyLen, c.Events, now)
	st.historyLen += len(c.Events)
	if len(c.ConsumeInbox) > 0 {
		b.Queue(`DELETE FROM flow_inbox WHERE execution_id = $1 AND id = ANY($2)`, id, c.ConsumeInbox)
	}
	for _, p := range c.Start {
		if p.Execution.ID == "" {
			return errors.New("start child: empty id")
		}
		b.Queue(startSQL, startArgs(p, now)...)
	}
	for _, m := range c.Send {
		// Unknown or closed targets have no task: skipped.
		b.Queue(`INSERT INTO flow_inbox (execution_id, kind, name, data, time)
			SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM flow_tasks WHERE execution_id = $1)`,
			m.ExecutionID, cleanText(m.Kind), cleanText(m.Name), m.Data, now)
		b.Queue(wakeSQL, m.ExecutionID, now)
	}
	switch {
	case c.Close != nil:
		queueClose(b, id, st.historyLen, *c.Close, now)
		st.running, st.lease = false, ""
	case c.NewRun != nil:
		st.run++
		st.historyLen = len(c.NewRun.Events)
		st.lease = ""
		b.Queue(`UPDATE flow_executions SET run = $2, input = $3, history_len = $4, updated_at = $5 WHERE id = $1`,
			id, st.run, c.NewRun.Input, st.historyLen, now)
		queueEvents(b, id, st.run, 0, c.NewRun.Events, now)
		b.Queue(`UPDATE flow_tasks SET due_at = $2, lease = '', lease_until = NULL, attempts = 0 WHERE execution_id = $1`, id, now)
	case c.Release != nil:
		st.lease = ""
		b.Queue(`UPDATE flow_executions SET history_len = $2, updated_at = $3 WHERE id = $1`, id, st.historyLen, now)
		// Due now if a message came that the holder has not seen: its
		// sender found the task held and left waking it to us. Messages
		// it saw and left (a signal nobody waits for yet) do not wake it.
		b.Queue(`UPDATE flow_tasks SET lease = '', lease_until = NULL, attempts = 0,
			due_at = CASE WHEN EXISTS (SELECT 1 FROM flow_inbox WHERE execution_id = $1 AND id > $4)
				THEN LEAST($2::timestamptz, $3::timestamptz) ELSE $3::timestamptz END
			WHERE execution_id = $1`, id, now, nullTime(c.Release.DueAt), c.Release.InboxSeen)
	default:
		b.Queue(`UPDATE flow_executions SET history_len = $2, updated_at = $3 WHERE id = $1`, id, st.historyLen, now)
		if !c.LeaseUntil.IsZero() {
			b.Queue(`UPDATE flow_tasks SET lease_until = $2 WHERE execution_id = $1`, id, flowTime(c.LeaseUntil))
		}
	}
	return nil
}

// wakeSQL makes a task due now ($2) unless it is due earlier; a held task
// keeps its lease.
const wakeSQL = `UPDATE flow_tasks SET due_at = $2 WHERE execution_id = $1 AND (due_at IS NULL OR due_at > $2)`

// queueClose finishes execution id, whose history then holds historyLen
// events: its task and inbox go.
func queueClose(b *pgx.Batch, id string, historyLen int, c store.FlowClose, now time.Time) {
	b.Queue(`UPDATE flow_executions SET status = $2, output = $3, error = $4, history_len = $5, updated_at = $6,
		closed_at = $6, retain_until = $7 WHERE id = $1`,
		id, c.Status, c.Output, c.Error, historyLen, now, flowTime(c.RetainUntil))
	b.Queue(`DELETE FROM flow_tasks WHERE execution_id = $1`, id)
	// A failed execution keeps the signals it had not consumed: a
	// restart from the failure uses them.
	b.Queue(`DELETE FROM flow_inbox WHERE execution_id = $1 AND (kind <> $2 OR $3 <> $4)`, id, record.InboxSignal, c.Status, record.FlowFailed)
}

// FlowClaim leases up to limit due tasks to owner. Tasks locked by a
// commit in progress are skipped.
func (s *Store) FlowClaim(ctx context.Context, owner string, now time.Time, leaseFor time.Duration, limit int) ([]record.FlowTask, error) {
	if limit <= 0 {
		return nil, nil
	}
	token, err := receiptToken()
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	now = flowTime(now)
	// Each lease is the claim's random token and the execution id, so no
	// two claims ever hand out the same lease.
	rows, err := s.pool.Query(ctx, `UPDATE flow_tasks SET lease = $1 || execution_id, lease_until = $2, attempts = attempts + 1
		WHERE execution_id IN (SELECT execution_id FROM flow_tasks
			WHERE due_at <= $3 AND (lease = '' OR lease_until <= $3)
			ORDER BY due_at, execution_id COLLATE "C" LIMIT $4 FOR UPDATE SKIP LOCKED)
		RETURNING execution_id, lease, lease_until, attempts, due_at`,
		cleanText(owner)+"/"+token, flowTime(now.Add(leaseFor)), now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	type claimed struct {
		task record.FlowTask
		due  time.Time
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (claimed, error) {
		var c claimed
		err := row.Scan(&c.task.ExecutionID, &c.task.Lease, &c.task.LeaseUntil, &c.task.Attempts, &c.due)
		c.task.LeaseUntil = utc(c.task.LeaseUntil)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim tasks: %w", err)
	}
	// RETURNING follows no ORDER BY: hand them out oldest due first.
	sort.Slice(out, func(i, j int) bool {
		if !out[i].due.Equal(out[j].due) {
			return out[i].due.Before(out[j].due)
		}
		return out[i].task.ExecutionID < out[j].task.ExecutionID
	})
	var tasks []record.FlowTask
	for _, c := range out {
		tasks = append(tasks, c.task)
	}
	return tasks, nil
}

// FlowRenew extends held leases to until, locking the tasks in id order.
func (s *Store) FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error) {
	if len(held) == 0 {
		return nil, nil
	}
	ids, leases := make([]string, len(held)), make([]string, len(held))
	for i, h := range held {
		ids[i], leases[i] = h.ExecutionID, h.Lease
	}
	rows, err := s.pool.Query(ctx, `WITH h AS (SELECT * FROM unnest($1::text[], $2::text[]) AS h(id, lease)),
		l AS (SELECT t.execution_id FROM flow_tasks t JOIN h ON h.id = t.execution_id AND h.lease = t.lease
			WHERE t.lease <> '' ORDER BY t.execution_id COLLATE "C" FOR UPDATE OF t)
		UPDATE flow_tasks t SET lease_until = $3 FROM h
		WHERE t.execution_id IN (SELECT execution_id FROM l) AND t.execution_id = h.id AND t.lease = h.lease
		RETURNING t.execution_id`, ids, leases, flowTime(until))
	if err != nil {
		return nil, fmt.Errorf("renew %d leases: %w", len(held), err)
	}
	kept, err := pgx.CollectRows(rows, pgx.RowTo[string])
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
	var next *time.Time
	err := s.pool.QueryRow(ctx, `SELECT LEAST(
		(SELECT due_at FROM flow_tasks WHERE due_at IS NOT NULL AND lease = '' ORDER BY due_at LIMIT 1),
		(SELECT min(GREATEST(due_at, lease_until)) FROM flow_tasks WHERE lease <> '' AND due_at IS NOT NULL))`).Scan(&next)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due task: %w", err)
	}
	if next == nil {
		return time.Time{}, false, nil
	}
	return utc(*next), true, nil
}

func scanFlowExec(row pgx.Row) (*record.FlowExecution, error) {
	var e record.FlowExecution
	var closed, retain *time.Time
	if err := row.Scan(&e.ID, &e.Project, &e.Workflow, &e.Function, &e.Run, &e.Status, &e.Input, &e.Output, &e.Error,
		&e.TraceID, &e.ParentID, &e.ParentStep, &e.HistoryLen, &e.CreatedAt, &e.UpdatedAt, &closed, &retain); err != nil {
		return nil, err
	}
	e.CreatedAt, e.UpdatedAt = utc(e.CreatedAt), utc(e.UpdatedAt)
	e.ClosedAt, e.RetainUntil = fromNullTime(closed), fromNullTime(retain)
	return &e, nil
}

func flowGet(ctx context.Context, q querier, id string) (*record.FlowExecution, error) {
	e, err := scanFlowExec(q.QueryRow(ctx, `SELECT `+flowExecCols+` FROM flow_executions WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	return e, err
}

// FlowGet returns one execution.
func (s *Store) FlowGet(ctx context.Context, id string) (*record.FlowExecution, error) {
	e, err := flowGet(ctx, s.pool, id)
	if err != nil {
		return nil, fmt.Errorf("get execution %s: %w", id, err)
	}
	return e, nil
}

// FlowList lists executions, newest first (ids in byte order, as SQLite).
func (s *Store) FlowList(ctx context.Context, p store.FlowListParams) ([]record.FlowExecution, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, f := range []struct{ col, v string }{
		{"project", p.Project}, {"workflow", p.Workflow}, {"status", p.Status}, {"parent_id", p.ParentID},
	} {
		if f.v != "" {
			where = append(where, f.col+" = "+arg(f.v))
		}
	}
	if p.Before != "" {
		var created time.Time
		err := s.pool.QueryRow(ctx, `SELECT created_at FROM flow_executions WHERE id = $1`, p.Before).Scan(&created)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("list executions before %s: execution %s: %w", p.Before, p.Before, store.ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("list executions: %w", err)
		}
		c, b := arg(created), arg(p.Before)
		where = append(where, `(created_at < `+c+` OR (created_at = `+c+` AND id COLLATE "C" < `+b+`))`)
	}
	q := `SELECT ` + flowExecCols + ` FROM flow_executions`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT ` + arg(limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.FlowExecution, error) {
		e, err := scanFlowExec(row)
		if err != nil {
			return record.FlowExecution{}, err
		}
		return *e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list executions: %w", err)
	}
	return nilIfEmpty(out), nil
}

// FlowHistory returns events of one run after afterSeq.
func (s *Store) FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, type, step, name, data, time FROM flow_history
		WHERE execution_id = $1 AND run = $2 AND seq > $3 ORDER BY seq LIMIT $4`, id, run, afterSeq, lim)
	if err != nil {
		return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.FlowEvent, error) {
		var ev record.FlowEvent
		err := row.Scan(&ev.Seq, &ev.Type, &ev.Step, &ev.Name, &ev.Data, &ev.Time)
		ev.Time = utc(ev.Time)
		return ev, err
	})
	if err != nil {
		return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
	}
	if len(out) == 0 {
		if _, err := flowGet(ctx, s.pool, id); err != nil {
			return nil, fmt.Errorf("history of execution %s run %d: %w", id, run, err)
		}
		return nil, nil
	}
	return out, nil
}

// FlowInboxList returns an execution's waiting messages, oldest first.
func (s *Store) FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, execution_id, kind, name, data, time FROM flow_inbox
		WHERE execution_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.FlowInbox, error) {
		var m record.FlowInbox
		err := row.Scan(&m.ID, &m.ExecutionID, &m.Kind, &m.Name, &m.Data, &m.Time)
		m.Time = utc(m.Time)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
	}
	if len(out) == 0 {
		if _, err := flowGet(ctx, s.pool, id); err != nil {
			return nil, fmt.Errorf("inbox of execution %s: %w", id, err)
		}
		return nil, nil
	}
	return out, nil
}

// lockRunning takes the task lock of execution id, or returns ErrNotFound
// or ErrClosed when it has no task.
func lockRunning(ctx context.Context, tx pgx.Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM flow_tasks WHERE execution_id = $1 FOR UPDATE`, id).Scan(&one)
	if err == nil {
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("lock task: %w", err)
	}
	var status string
	err = tx.QueryRow(ctx, `SELECT status FROM flow_executions WHERE id = $1`, id).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("execution %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("execution %s is %s: %w", id, status, store.ErrClosed)
}

// FlowSend puts a message in a running execution's inbox and makes its
// task due now.
func (s *Store) FlowSend(ctx context.Context, m record.FlowInbox, now time.Time) (int64, error) {
	now = flowTime(now)
	var id int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockRunning(ctx, tx, m.ExecutionID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO flow_inbox (execution_id, kind, name, data, time) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
			m.ExecutionID, cleanText(m.Kind), cleanText(m.Name), m.Data, now).Scan(&id); err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		_, err := tx.Exec(ctx, wakeSQL, m.ExecutionID, now)
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

// FlowTerminate closes a running execution without its code.
func (s *Store) FlowTerminate(ctx context.Context, id string, ev record.FlowEvent, c store.FlowClose, now time.Time) error {
	now = flowTime(now)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockRunning(ctx, tx, id); err != nil {
			return err
		}
		var run, historyLen int
		if err := tx.QueryRow(ctx, `SELECT run, history_len FROM flow_executions WHERE id = $1`, id).Scan(&run, &historyLen); err != nil {
			return err
		}
		b := &pgx.Batch{}
		queueEvents(b, id, run, historyLen, []record.FlowEvent{ev}, now)
		queueClose(b, id, historyLen+1, c, now)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("terminate execution %s: %w", id, err)
	}
	return nil
}

// FlowReopen makes a closed execution running again. It locks the
// execution row: a closed execution has no task row to lock.
func (s *Store) FlowReopen(ctx context.Context, p store.FlowReopenParams, now time.Time) (*record.FlowExecution, error) {
	now = flowTime(now)
	var exec *record.FlowExecution
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := scanFlowExec(tx.QueryRow(ctx, `SELECT `+flowExecCols+` FROM flow_executions WHERE id = $1 FOR UPDATE`, p.ID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("execution %s: %w", p.ID, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if e.Status == record.FlowRunning {
			return fmt.Errorf("execution %s: %w", p.ID, store.ErrRunning)
		}
		b := &pgx.Batch{}
		run, historyLen, input := e.Run, e.HistoryLen, e.Input
		queueEvents(b, p.ID, run, historyLen, p.Events, now)
		historyLen += len(p.Events)
		if p.NewRun != nil {
			run, historyLen, input = run+1, len(p.NewRun.Events), p.NewRun.Input
			queueEvents(b, p.ID, run, 0, p.NewRun.Events, now)
		}
		b.Queue(`INSERT INTO flow_tasks (execution_id, due_at, lease, lease_until, attempts) VALUES ($1, $2, '', NULL, 0)`, p.ID, now)
		b.Queue(`UPDATE flow_executions SET status = 'running', run = $2, input = $3, output = NULL, error = NULL,
			history_len = $4, updated_at = $5, closed_at = NULL, retain_until = NULL WHERE id = $1
			RETURNING `+flowExecCols, p.ID, run, input, historyLen, now).QueryRow(func(row pgx.Row) error {
			exec, err = scanFlowExec(row)
			return err
		})
		return tx.SendBatch(ctx, b).Close()
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM flow_executions WHERE id IN (SELECT id FROM flow_executions
		WHERE retain_until IS NOT NULL AND retain_until < $1 AND status <> 'running'
		ORDER BY retain_until LIMIT $2 FOR UPDATE SKIP LOCKED)`, flowTime(now), limit)
	if err != nil {
		return 0, fmt.Errorf("sweep executions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
