package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The flow area of sqlstore.Queries. Several nodes share the tables, so the
// lock of an execution is the row lock of its task (see queries/flow.sql),
// and the writes of an operation go in one pipelined batch.

// nullTime stores t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNullTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return utc(*t)
}

// FlowLock locks first, then reads: the second statement's snapshot holds
// every write made under the locks (a join locking the tasks could return
// execution rows older than the locks).
func (q queries) FlowLock(ctx context.Context, ids []string) ([]sqlstore.FlowState, error) {
	locked, err := q.Queries.FlowTaskLock(ctx, ids)
	if err != nil || len(locked) == 0 {
		return nil, err
	}
	rows, err := q.Queries.FlowState(ctx, locked)
	return sqlstore.Rows(rows, func(r pgdb.FlowStateRow) sqlstore.FlowState {
		return sqlstore.FlowState{ExecutionID: r.ExecutionID, Lease: r.Lease, Status: r.Status, Run: int(r.Run), HistoryLen: int(r.HistoryLen)}
	}), err
}

func (q queries) FlowLockExecution(ctx context.Context, id string) (*record.FlowExecution, error) {
	r, err := q.Queries.FlowLockExecution(ctx, id)
	return sqlstore.One(r, notFound(err), flowExecution)
}

func (q queries) FlowInsert(ctx context.Context, n sqlstore.FlowNew) (bool, error) {
	c, err := q.Queries.FlowStart(ctx, flowStart(n))
	return c == 1, err
}

// flowStart is the arguments of FlowStart: one statement creates the
// execution, its events and its task.
func flowStart(n sqlstore.FlowNew) pgdb.FlowStartParams {
	e := n.Execution
	ev := flowEvents(e.ID, 1, n.Events)
	return pgdb.FlowStartParams{ID: e.ID, Project: e.Project, Workflow: e.Workflow, Function: e.Function, Input: e.Input,
		TraceID: e.TraceID, ParentID: e.ParentID, ParentStep: int32(e.ParentStep), HistoryLen: int32(len(n.Events)), Now: n.Now,
		Seqs: ev.Seqs, Types: ev.Types, Steps: ev.Steps, Names: ev.Names, Datas: ev.Datas, Times: ev.Times,
		DueAt: nullTime(n.DueAt), Lease: n.Lease, LeaseUntil: nullTime(n.LeaseUntil), Attempts: int32(n.Attempts)}
}

// flowEvents are events as column arrays: one statement whatever their
// number.
func flowEvents(id string, run int, events []record.FlowEvent) pgdb.FlowEventsAppendParams {
	k := len(events)
	a := pgdb.FlowEventsAppendParams{ExecutionID: id, Run: int32(run), Seqs: make([]int32, k), Types: make([]string, k),
		Steps: make([]int32, k), Names: make([]string, k), Datas: make([][]byte, k), Times: make([]time.Time, k)}
	for i, ev := range events {
		a.Seqs[i], a.Types[i], a.Steps[i], a.Names[i], a.Datas[i], a.Times[i] = int32(ev.Seq), ev.Type, int32(ev.Step), ev.Name, ev.Data, ev.Time
	}
	return a
}

func (q queries) FlowGet(ctx context.Context, id string) (*record.FlowExecution, error) {
	r, err := q.Queries.FlowGet(ctx, id)
	return sqlstore.One(r, notFound(err), flowExecution)
}

func flowExecution(r pgdb.FlowExecution) record.FlowExecution {
	return record.FlowExecution{ID: r.ID, Project: r.Project, Workflow: r.Workflow, Function: r.Function, Run: int(r.Run),
		Status: r.Status, Input: r.Input, Output: r.Output, Error: r.Error, TraceID: r.TraceID, ParentID: r.ParentID,
		ParentStep: int(r.ParentStep), HistoryLen: int(r.HistoryLen), CreatedAt: utc(r.CreatedAt),
		UpdatedAt: utc(r.UpdatedAt), ClosedAt: fromNullTime(r.ClosedAt), RetainUntil: fromNullTime(r.RetainUntil)}
}

func (q queries) FlowCreatedAt(ctx context.Context, id string) (time.Time, error) {
	at, err := q.Queries.FlowCreatedAt(ctx, id)
	return utc(at), notFound(err)
}

// FlowList is written by hand: each optional filter adds a condition, so
// that the indexes on (project|status, created_at, id) serve it.
func (q queries) FlowList(ctx context.Context, p store.FlowListParams, before time.Time) ([]record.FlowExecution, error) {
	f := sqlstore.NewFilter(param)
	f.Eq("project", p.Project)
	f.Eq("workflow", p.Workflow)
	f.Eq("status", p.Status)
	f.Eq("parent_id", p.ParentID)
	if p.Before != "" {
		c, b := f.Arg(before), f.Arg(p.Before)
		f.And(`(created_at < ` + c + ` OR (created_at = ` + c + ` AND id COLLATE "C" < ` + b + `))`)
	}
	limit := f.Arg(p.Limit) // bound before f.Args is read below
	rows, err := q.db.Query(ctx, `SELECT id, project, workflow, function, run, status, input, output, error,
		trace_id, parent_id, parent_step, history_len, created_at, updated_at, closed_at, retain_until
		FROM flow_executions WHERE true`+f.Where()+` ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT `+limit, f.Args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.FlowExecution, error) {
		var r pgdb.FlowExecution
		err := row.Scan(&r.ID, &r.Project, &r.Workflow, &r.Function, &r.Run, &r.Status, &r.Input, &r.Output, &r.Error,
			&r.TraceID, &r.ParentID, &r.ParentStep, &r.HistoryLen, &r.CreatedAt, &r.UpdatedAt, &r.ClosedAt, &r.RetainUntil)
		return flowExecution(r), err
	})
	return nilIfEmpty(out), err
}

func (q queries) FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error) {
	rows, err := q.Queries.FlowHistory(ctx, id, int32(run), int32(afterSeq), pgtype.Int4{Int32: int32(limit), Valid: limit > 0})
	return sqlstore.Rows(rows, func(r pgdb.FlowHistoryRow) record.FlowEvent {
		return record.FlowEvent{Seq: int(r.Seq), Type: r.Type, Step: int(r.Step), Name: r.Name, Data: r.Data, Time: utc(r.Time)}
	}), err
}

func (q queries) FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error) {
	rows, err := q.Queries.FlowInboxList(ctx, id)
	return sqlstore.Rows(rows, func(r pgdb.FlowInbox) record.FlowInbox {
		return record.FlowInbox{ID: r.ID, ExecutionID: r.ExecutionID, Kind: r.Kind, Name: r.Name, Data: r.Data, Time: utc(r.Time)}
	}), err
}

func (q queries) FlowInboxInsert(ctx context.Context, m record.FlowInbox) (int64, error) {
	return q.Queries.FlowInboxInsert(ctx, pgdb.FlowInboxInsertParams{ExecutionID: m.ExecutionID, Kind: m.Kind, Name: m.Name,
		Data: m.Data, Time: m.Time})
}

func (q queries) FlowClaim(ctx context.Context, prefix string, until, now time.Time, limit int) ([]sqlstore.FlowClaimed, error) {
	rows, err := q.Queries.FlowClaim(ctx, prefix, &until, &now, int32(limit))
	return sqlstore.Rows(rows, func(r pgdb.FlowClaimRow) sqlstore.FlowClaimed {
		return sqlstore.FlowClaimed{Due: fromNullTime(r.DueAt), Task: record.FlowTask{ExecutionID: r.ExecutionID,
			Lease: r.Lease, LeaseUntil: fromNullTime(r.LeaseUntil), Attempts: int(r.Attempts)}}
	}), err
}

// FlowRenew is one statement, locking the tasks in id order.
func (q queries) FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error) {
	ids, leases := make([]string, len(held)), make([]string, len(held))
	for i, h := range held {
		ids[i], leases[i] = h.ExecutionID, h.Lease
	}
	return q.Queries.FlowRenew(ctx, &until, ids, leases)
}

func (q queries) FlowNextDue(ctx context.Context) (time.Time, time.Time, error) {
	r, err := q.Queries.FlowNextDue(ctx)
	held, _ := r.Held.(time.Time)
	return fromNullTime(r.Free), utc(held), err
}

func (q queries) FlowCount(ctx context.Context) ([]store.FlowCount, error) {
	rows, err := q.Queries.FlowCount(ctx)
	out := make([]store.FlowCount, len(rows))
	for i, r := range rows {
		out[i] = store.FlowCount{Project: r.Project, Workflow: r.Workflow, Status: r.Status, N: r.N}
	}
	return out, err
}

func (q queries) FlowSweep(ctx context.Context, now time.Time, limit int) (int64, error) {
	return q.Queries.FlowSweep(ctx, &now, int32(limit))
}

// FlowWrite queues the writes in one batch and sends it when fn returns:
// one round trip for all of them.
func (q queries) FlowWrite(ctx context.Context, fn func(sqlstore.FlowWriter) error) error {
	b := &pgx.Batch{}
	if err := fn(flowBatch{ctx: ctx, q: pgdb.New(batchQueue{b: b})}); err != nil {
		return err
	}
	if b.Len() == 0 {
		return nil
	}
	return q.db.(interface {
		SendBatch(context.Context, *pgx.Batch) pgx.BatchResults
	}).SendBatch(ctx, b).Close()
}

// batchQueue is a pgdb.DBTX that queues every statement in a batch instead
// of running it, so that the generated queries serve pipelined writes too.
// Only Exec has a use: nothing is read back before the batch is sent.
// last, when set, is pointed at the statement just queued, for a caller
// that reads its command tag when the batch runs.
type batchQueue struct {
	b    *pgx.Batch
	last **pgx.QueuedQuery
}

func (d batchQueue) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	qq := d.b.Queue(sql, args...)
	if d.last != nil {
		*d.last = qq
	}
	return pgconn.CommandTag{}, nil
}

var errQueued = errors.New("a queued batch returns no rows")

func (batchQueue) Query(context.Context, string, ...any) (pgx.Rows, error) { return nil, errQueued }
func (batchQueue) QueryRow(context.Context, string, ...any) pgx.Row        { return errRow{} }

type errRow struct{}

func (errRow) Scan(...any) error { return errQueued }

// flowBatch is sqlstore.FlowWriter on a batch: queueing cannot fail, the
// batch reports the errors.
type flowBatch struct {
	ctx context.Context
	q   *pgdb.Queries
}

func (w flowBatch) Start(n sqlstore.FlowNew) { _, _ = w.q.FlowStart(w.ctx, flowStart(n)) }

func (w flowBatch) Events(id string, run int, events []record.FlowEvent) {
	_ = w.q.FlowEventsAppend(w.ctx, flowEvents(id, run, events))
}

func (w flowBatch) Send(m record.FlowInbox) {
	_ = w.q.FlowInboxSend(w.ctx, pgdb.FlowInboxSendParams{ExecutionID: m.ExecutionID, Kind: m.Kind, Name: m.Name,
		Data: m.Data, Time: m.Time})
}

func (w flowBatch) InboxDelete(id string, ids []int64) { _ = w.q.FlowInboxDelete(w.ctx, id, ids) }

func (w flowBatch) InboxClear(id, keepKind string) { _ = w.q.FlowInboxClear(w.ctx, id, keepKind) }

func (w flowBatch) Wake(id string, now time.Time) { _ = w.q.FlowWake(w.ctx, &now, id) }

func (w flowBatch) ExecUpdate(id string, historyLen int, now time.Time) {
	_ = w.q.FlowExecUpdate(w.ctx, int32(historyLen), now, id)
}

func (w flowBatch) ExecNewRun(id string, run int, input []byte, historyLen int, now time.Time) {
	_ = w.q.FlowExecNewRun(w.ctx, pgdb.FlowExecNewRunParams{ID: id, Run: int32(run), Input: input,
		HistoryLen: int32(historyLen), UpdatedAt: now})
}

func (w flowBatch) ExecClose(id string, historyLen int, c store.FlowClose, now time.Time) {
	_ = w.q.FlowExecClose(w.ctx, pgdb.FlowExecCloseParams{ID: id, Status: c.Status, Output: c.Output, Error: c.Error,
		HistoryLen: int32(historyLen), Now: now, RetainUntil: nullTime(c.RetainUntil)})
}

func (w flowBatch) ExecReopen(id string, run int, input []byte, historyLen int, now time.Time) {
	_ = w.q.FlowExecReopen(w.ctx, pgdb.FlowExecReopenParams{ID: id, Run: int32(run), Input: input,
		HistoryLen: int32(historyLen), UpdatedAt: now})
}

func (w flowBatch) TaskInsert(id string, due time.Time) {
	_ = w.q.FlowTaskInsert(w.ctx, pgdb.FlowTaskInsertParams{ExecutionID: id, DueAt: nullTime(due)})
}

func (w flowBatch) TaskDelete(id string) { _ = w.q.FlowTaskDelete(w.ctx, id) }

func (w flowBatch) TaskReset(id string, due time.Time) { _ = w.q.FlowTaskReset(w.ctx, &due, id) }

func (w flowBatch) TaskRelease(id string, due, now time.Time, inboxSeen int64) {
	_ = w.q.FlowTaskRelease(w.ctx, id, inboxSeen, now, nullTime(due))
}

func (w flowBatch) TaskExtend(id string, until time.Time) { _ = w.q.FlowTaskExtend(w.ctx, &until, id) }

var _ sqlstore.FlowPipeline = queries{}

// The statements of FlowLockWrite, as FlowTaskLock and FlowState in
// queries/flow.sql, written here because they are queued in a batch
// rather than run one by one.
const (
	flowLockSQL = `SELECT execution_id FROM flow_tasks WHERE execution_id = ANY($1::text[])
ORDER BY execution_id COLLATE "C" FOR UPDATE`
	flowStateSQL = `SELECT t.execution_id, t.lease, e.status, e.run, e.history_len
FROM flow_tasks t JOIN flow_executions e ON e.id = t.execution_id
WHERE t.execution_id = ANY($1::text[])`
)

// FlowLockWrite is a commit in two round trips on one connection instead
// of five (BEGIN, lock, read, writes, COMMIT): BEGIN, the task locks and
// the state read after them go in one pipeline, the writes and COMMIT in
// a second. The read is a statement of its own, after the locks, as in
// FlowLock: its snapshot holds every write made under them. An error
// anywhere rolls back (PostgreSQL skips the rest of a failed pipeline,
// COMMIT included).
func (q queries) FlowLockWrite(ctx context.Context, ids []string, write func([]sqlstore.FlowState, sqlstore.FlowWriter) error) error {
	c, err := q.s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left in a transaction (a rollback that failed) is
	// closed by the pool, not reused.
	defer c.Release()
	conn := c.Conn()
	rollback := func(err error) error {
		if conn.PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	}

	b := &pgx.Batch{}
	b.Queue("BEGIN")
	var locked []string
	b.Queue(flowLockSQL, ids).Query(func(rows pgx.Rows) (err error) {
		locked, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	var states []sqlstore.FlowState
	b.Queue(flowStateSQL, ids).Query(func(rows pgx.Rows) (err error) {
		states, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (sqlstore.FlowState, error) {
			var st sqlstore.FlowState
			var run, n int32
			err := row.Scan(&st.ExecutionID, &st.Lease, &st.Status, &run, &n)
			st.Run, st.HistoryLen = int(run), int(n)
			return st, err
		})
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return rollback(fmt.Errorf("lock tasks: %w", err))
	}
	// Only what this transaction locked: a task created since the lock
	// statement (a reopen) is not ours to judge.
	states = slices.DeleteFunc(states, func(st sqlstore.FlowState) bool { return !slices.Contains(locked, st.ExecutionID) })

	wb := &pgx.Batch{}
	if err := write(states, flowBatch{ctx: ctx, q: pgdb.New(batchQueue{b: wb})}); err != nil {
		return rollback(err)
	}
	wb.Queue("COMMIT")
	if err := conn.SendBatch(ctx, wb).Close(); err != nil {
		return rollback(err)
	}
	return nil
}

// FlowInsertBatch sends the starts in one pipeline without BEGIN: the
// statements before its Sync run as one implicit transaction, committed
// when all succeed and rolled back otherwise, in one round trip.
func (q queries) FlowInsertBatch(ctx context.Context, ns []sqlstore.FlowNew) ([]bool, error) {
	created := make([]bool, len(ns))
	b := &pgx.Batch{}
	var last *pgx.QueuedQuery
	w := pgdb.New(batchQueue{b: b, last: &last})
	for i, n := range ns {
		_, _ = w.FlowStart(ctx, flowStart(n))
		last.Exec(func(ct pgconn.CommandTag) error {
			created[i] = ct.RowsAffected() == 1
			return nil
		})
	}
	if err := q.s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return created, nil
}
