package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The flow area of sqlstore.Queries. Every write runs on the single writer
// connection (BEGIN IMMEDIATE), which is the lock: FlowLock and
// FlowLockExecution only read. Times are microseconds; NULL is the zero
// time.

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

func (q queries) FlowLock(ctx context.Context, ids []string) ([]sqlstore.FlowState, error) {
	q = q.flow()
	var out []sqlstore.FlowState
	for start := 0; start < len(ids); start += insertChunk {
		rows, err := q.Queries.FlowState(ctx, ids[start:min(start+insertChunk, len(ids))])
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			out = append(out, sqlstore.FlowState{ExecutionID: r.ExecutionID, Lease: r.Lease, Status: r.Status,
				Run: int(r.Run), HistoryLen: int(r.HistoryLen)})
		}
	}
	return out, nil
}

func (q queries) FlowLockExecution(ctx context.Context, id string) (*record.FlowExecution, error) {
	return q.FlowGet(ctx, id)
}

// FlowInsert is three statements: SQLite has no INSERT inside a WITH.
func (q queries) FlowInsert(ctx context.Context, n sqlstore.FlowNew) (bool, error) {
	q = q.flow()
	e := n.Execution
	c, err := q.Queries.FlowExecInsert(ctx, sqlitedb.FlowExecInsertParams{ID: e.ID, Project: e.Project, Workflow: e.Workflow,
		Function: e.Function, Input: e.Input, TraceID: e.TraceID, ParentID: e.ParentID, ParentStep: int64(e.ParentStep),
		HistoryLen: int64(len(n.Events)), Now: micros(n.Now)})
	if err != nil || c == 0 {
		return false, err
	}
	if err := q.flowEvents(ctx, e.ID, 1, n.Events); err != nil {
		return false, err
	}
	return true, q.Queries.FlowTaskInsert(ctx, sqlitedb.FlowTaskInsertParams{ExecutionID: e.ID, DueAt: nullMicros(n.DueAt),
		Lease: n.Lease, LeaseUntil: nullMicros(n.LeaseUntil), Attempts: int64(n.Attempts)})
}

const flowEventCols = 8

// flowEvents runs one multi-row INSERT per chunk of events, written by hand
// as UsageInsert.
func (q queries) flowEvents(ctx context.Context, id string, run int, events []record.FlowEvent) error {
	for start := 0; start < len(events); start += insertChunk {
		chunk := events[start:min(start+insertChunk, len(events))]
		args := make([]any, 0, len(chunk)*flowEventCols)
		for _, ev := range chunk {
			args = append(args, id, run, ev.Seq, ev.Type, ev.Step, ev.Name, ev.Data, micros(ev.Time))
		}
		if _, err := q.db.ExecContext(ctx, flowEventsSQL(len(chunk)), args...); err != nil {
			return err
		}
	}
	return nil
}

func (q queries) FlowGet(ctx context.Context, id string) (*record.FlowExecution, error) {
	r, err := q.Queries.FlowGet(ctx, id)
	return sqlstore.One(r, notFound(err), flowExecution)
}

func flowExecution(r sqlitedb.FlowExecution) record.FlowExecution {
	return record.FlowExecution{ID: r.ID, Project: r.Project, Workflow: r.Workflow, Function: r.Function, Run: int(r.Run),
		Status: r.Status, Input: r.Input, Output: r.Output, Error: r.Error, TraceID: r.TraceID, ParentID: r.ParentID,
		ParentStep: int(r.ParentStep), HistoryLen: int(r.HistoryLen), CreatedAt: fromMicros(r.CreatedAt),
		UpdatedAt: fromMicros(r.UpdatedAt), ClosedAt: fromNullMicros(r.ClosedAt), RetainUntil: fromNullMicros(r.RetainUntil)}
}

func (q queries) FlowCreatedAt(ctx context.Context, id string) (time.Time, error) {
	at, err := q.Queries.FlowCreatedAt(ctx, id)
	return fromMicros(at), notFound(err)
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
		c1, c2, b := f.Arg(micros(before)), f.Arg(micros(before)), f.Arg(p.Before)
		f.And("(created_at < " + c1 + " OR (created_at = " + c2 + " AND id < " + b + "))")
	}
	limit := f.Arg(p.Limit) // bound before f.Args is read below
	rows, err := q.db.QueryContext(ctx, `SELECT id, project, workflow, function, run, status, input, output, error,
		trace_id, parent_id, parent_step, history_len, created_at, updated_at, closed_at, retain_until
		FROM flow_executions WHERE 1 = 1`+f.Where()+` ORDER BY created_at DESC, id DESC LIMIT `+limit, f.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.FlowExecution
	for rows.Next() {
		var r sqlitedb.FlowExecution
		if err := rows.Scan(&r.ID, &r.Project, &r.Workflow, &r.Function, &r.Run, &r.Status, &r.Input, &r.Output, &r.Error,
			&r.TraceID, &r.ParentID, &r.ParentStep, &r.HistoryLen, &r.CreatedAt, &r.UpdatedAt, &r.ClosedAt, &r.RetainUntil); err != nil {
			return nil, err
		}
		out = append(out, flowExecution(r))
	}
	return out, rows.Err()
}

func (q queries) FlowHistory(ctx context.Context, id string, run, afterSeq, limit int) ([]record.FlowEvent, error) {
	lim := int64(limit)
	if limit <= 0 {
		lim = -1 // SQLite: no limit
	}
	rows, err := q.Queries.FlowHistory(ctx, id, int64(run), int64(afterSeq), lim)
	return sqlstore.Rows(rows, func(r sqlitedb.FlowHistoryRow) record.FlowEvent {
		return record.FlowEvent{Seq: int(r.Seq), Type: r.Type, Step: int(r.Step), Name: r.Name, Data: r.Data, Time: fromMicros(r.Time)}
	}), err
}

func (q queries) FlowInboxList(ctx context.Context, id string) ([]record.FlowInbox, error) {
	rows, err := q.Queries.FlowInboxList(ctx, id)
	return sqlstore.Rows(rows, func(r sqlitedb.FlowInbox) record.FlowInbox {
		return record.FlowInbox{ID: r.ID, ExecutionID: r.ExecutionID, Kind: r.Kind, Name: r.Name, Data: r.Data, Time: fromMicros(r.Time)}
	}), err
}

func (q queries) FlowInboxInsert(ctx context.Context, m record.FlowInbox) (int64, error) {
	return q.Queries.FlowInboxInsert(ctx, sqlitedb.FlowInboxInsertParams{ExecutionID: m.ExecutionID, Kind: m.Kind, Name: m.Name,
		Data: m.Data, Time: micros(m.Time)})
}

func (q queries) FlowClaim(ctx context.Context, prefix string, until, now time.Time, limit int) ([]sqlstore.FlowClaimed, error) {
	rows, err := q.Queries.FlowClaim(ctx, prefix, nullMicros(until), nullMicros(now), int64(limit))
	return sqlstore.Rows(rows, func(r sqlitedb.FlowClaimRow) sqlstore.FlowClaimed {
		return sqlstore.FlowClaimed{Due: fromNullMicros(r.DueAt), Task: record.FlowTask{ExecutionID: r.ExecutionID,
			Lease: r.Lease, LeaseUntil: fromNullMicros(r.LeaseUntil), Attempts: int(r.Attempts)}}
	}), err
}

// FlowRenew is one statement per lease, in the Write's transaction.
func (q queries) FlowRenew(ctx context.Context, held []record.FlowTask, until time.Time) ([]string, error) {
	var kept []string
	for _, h := range held {
		n, err := q.Queries.FlowRenew(ctx, nullMicros(until), h.ExecutionID, h.Lease)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			kept = append(kept, h.ExecutionID)
		}
	}
	return kept, nil
}

func (q queries) FlowNextDue(ctx context.Context) (time.Time, time.Time, error) {
	r, err := q.Queries.FlowNextDue(ctx)
	held, _ := r.Held.(int64)
	if r.Held == nil {
		return fromNullMicros(r.Free), time.Time{}, err
	}
	return fromNullMicros(r.Free), fromMicros(held), err
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
	return q.Queries.FlowSweep(ctx, nullMicros(now), int64(limit))
}

// FlowWrite runs each write at once on the transaction.
func (q queries) FlowWrite(ctx context.Context, fn func(sqlstore.FlowWriter) error) error {
	w := &flowWriter{ctx: ctx, q: q.flow()}
	if err := fn(w); err != nil {
		return err
	}
	return w.err
}

// flowWriter is sqlstore.FlowWriter on the single writer's transaction. It
// keeps the first error; what runs after it is rolled back with the rest.
type flowWriter struct {
	ctx context.Context
	q   queries
	err error
}

func (w *flowWriter) keep(err error) {
	if w.err == nil {
		w.err = err
	}
}

func (w *flowWriter) Start(n sqlstore.FlowNew) {
	_, err := w.q.FlowInsert(w.ctx, n)
	w.keep(err)
}

func (w *flowWriter) Events(id string, run int, events []record.FlowEvent) {
	w.keep(w.q.flowEvents(w.ctx, id, run, events))
}

func (w *flowWriter) Send(m record.FlowInbox) {
	w.keep(w.q.Queries.FlowInboxSend(w.ctx, sqlitedb.FlowInboxSendParams{ExecutionID: m.ExecutionID, Kind: m.Kind, Name: m.Name,
		Data: m.Data, Time: micros(m.Time)}))
}

func (w *flowWriter) InboxDelete(id string, ids []int64) {
	for start := 0; start < len(ids); start += insertChunk {
		w.keep(w.q.Queries.FlowInboxDelete(w.ctx, id, ids[start:min(start+insertChunk, len(ids))]))
	}
}

func (w *flowWriter) InboxClear(id, keepKind string) {
	w.keep(w.q.Queries.FlowInboxClear(w.ctx, id, keepKind))
}

func (w *flowWriter) Wake(id string, now time.Time) {
	w.keep(w.q.Queries.FlowWake(w.ctx, nullMicros(now), id))
}

func (w *flowWriter) ExecUpdate(id string, historyLen int, now time.Time) {
	w.keep(w.q.Queries.FlowExecUpdate(w.ctx, int64(historyLen), micros(now), id))
}

func (w *flowWriter) ExecNewRun(id string, run int, input []byte, historyLen int, now time.Time) {
	w.keep(w.q.Queries.FlowExecNewRun(w.ctx, sqlitedb.FlowExecNewRunParams{ID: id, Run: int64(run), Input: input,
		HistoryLen: int64(historyLen), UpdatedAt: micros(now)}))
}

func (w *flowWriter) ExecClose(id string, historyLen int, c store.FlowClose, now time.Time) {
	w.keep(w.q.Queries.FlowExecClose(w.ctx, sqlitedb.FlowExecCloseParams{ID: id, Status: c.Status, Output: c.Output, Error: c.Error,
		HistoryLen: int64(historyLen), Now: micros(now), RetainUntil: nullMicros(c.RetainUntil)}))
}

func (w *flowWriter) ExecReopen(id string, run int, input []byte, historyLen int, now time.Time) {
	w.keep(w.q.Queries.FlowExecReopen(w.ctx, sqlitedb.FlowExecReopenParams{ID: id, Run: int64(run), Input: input,
		HistoryLen: int64(historyLen), UpdatedAt: micros(now)}))
}

func (w *flowWriter) TaskInsert(id string, due time.Time) {
	w.keep(w.q.Queries.FlowTaskInsert(w.ctx, sqlitedb.FlowTaskInsertParams{ExecutionID: id, DueAt: nullMicros(due)}))
}

func (w *flowWriter) TaskDelete(id string) { w.keep(w.q.Queries.FlowTaskDelete(w.ctx, id)) }

func (w *flowWriter) TaskReset(id string, due time.Time) {
	w.keep(w.q.Queries.FlowTaskReset(w.ctx, nullMicros(due), id))
}

func (w *flowWriter) TaskRelease(id string, due, now time.Time, inboxSeen int64) {
	w.keep(w.q.Queries.FlowTaskRelease(w.ctx, id, inboxSeen, micros(now), nullMicros(due)))
}

func (w *flowWriter) TaskExtend(id string, until time.Time) {
	w.keep(w.q.Queries.FlowTaskExtend(w.ctx, nullMicros(until), id))
}
