package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
)

// flowStmts holds the statements of a workflow step's commit, prepared
// once on the single writer connection. The driver prepares a statement
// at every call otherwise, which profiles at about a third of a commit's
// CPU: parsing and planning the same half-dozen statements for every
// step. The texts are the generated ones, recorded by calling the
// generated methods on a recorder (no copy to drift), plus the history
// inserts of one to maxCachedEvents events. Statements not in the set
// run as before.
type flowStmts struct {
	m map[string]*sql.Stmt // written once by prepare, before any write
}

// maxCachedEvents bounds the history inserts prepared: a commit of a step
// appends one to three events.
const maxCachedEvents = 4

// prepare prepares the statements of the flow hot path on w, which no
// transaction holds yet (Open, after the migrations).
func (s *flowStmts) prepare(ctx context.Context, w *sql.DB) error {
	rec := &recorder{}
	q := sqlitedb.New(rec)
	_, _ = q.FlowState(ctx, []string{""})
	_, _ = q.FlowState(ctx, []string{"", ""})
	_, _ = q.FlowExecInsert(ctx, sqlitedb.FlowExecInsertParams{})
	_ = q.FlowTaskInsert(ctx, sqlitedb.FlowTaskInsertParams{})
	_ = q.FlowExecUpdate(ctx, 0, 0, "")
	_ = q.FlowTaskExtend(ctx, sql.NullInt64{}, "")
	_ = q.FlowExecClose(ctx, sqlitedb.FlowExecCloseParams{})
	_ = q.FlowTaskDelete(ctx, "")
	_ = q.FlowInboxClear(ctx, "", "")
	_ = q.FlowTaskRelease(ctx, "", 0, 0, sql.NullInt64{})
	// The object commit's (objects.go), which shares the cache.
	_, _ = q.ObjectLeaseRenew(ctx, sqlitedb.ObjectLeaseRenewParams{})
	_, _ = q.ObjectDeleteAll(ctx, "", "", "")
	_ = q.ObjectPut(ctx, sqlitedb.ObjectPutParams{})
	_, _ = q.ObjectInfoUpdate(ctx, sqlitedb.ObjectInfoUpdateParams{})
	_ = q.ObjectInfoInsert(ctx, sqlitedb.ObjectInfoInsertParams{})
	for n := 1; n <= maxCachedEvents; n++ {
		rec.texts = append(rec.texts, flowEventsSQL(n))
	}
	m := make(map[string]*sql.Stmt, len(rec.texts))
	for _, text := range rec.texts {
		st, err := w.PrepareContext(ctx, text)
		if err != nil {
			return fmt.Errorf("prepare flow statement: %w", err)
		}
		m[text] = st
	}
	s.m = m
	return nil
}

func flowEventsSQL(n int) string {
	return `INSERT INTO flow_history (execution_id, run, seq, type, step, name, data, time) VALUES ` + placeholders(n, flowEventCols)
}

// recorder is a sqlitedb.DBTX that runs nothing and keeps the text of
// each statement it is handed.
type recorder struct{ texts []string }

var errRecorded = errors.New("recorded, not run")

func (r *recorder) ExecContext(_ context.Context, q string, _ ...any) (sql.Result, error) {
	r.texts = append(r.texts, q)
	return nil, errRecorded
}

func (r *recorder) QueryContext(_ context.Context, q string, _ ...any) (*sql.Rows, error) {
	r.texts = append(r.texts, q)
	return nil, errRecorded
}

func (r *recorder) PrepareContext(context.Context, string) (*sql.Stmt, error) {
	return nil, errRecorded
}

// QueryRowContext is not recorded: a *sql.Row cannot carry an error from
// outside database/sql, and no statement of the set reads one row.
func (r *recorder) QueryRowContext(context.Context, string, ...any) *sql.Row {
	panic("flow statement cache: QueryRowContext is not recorded")
}

// cachedTx is sqlitedb.DBTX on a write transaction: a statement of the
// set runs prepared (the transaction's copy of it reuses the connection's
// prepared statement), any other as the transaction would run it.
type cachedTx struct {
	tx *sql.Tx
	s  *flowStmts
}

func (c cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := c.s.m[q]; st != nil {
		return c.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, q, args...)
}

func (c cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := c.s.m[q]; st != nil {
		return c.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, q, args...)
}

func (c cachedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := c.s.m[q]; st != nil {
		return c.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, q, args...)
}

func (c cachedTx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return c.tx.PrepareContext(ctx, q)
}

// flow returns q with the flow statements prepared, when q is a write
// transaction of a store that has them.
func (q queries) flow() queries {
	tx, ok := q.db.(*sql.Tx)
	if !ok || q.stmts == nil || q.stmts.m == nil {
		return q
	}
	c := cachedTx{tx: tx, s: q.stmts}
	return queries{Queries: sqlitedb.New(c), db: c, stmts: q.stmts}
}

var (
	_ sqlitedb.DBTX = cachedTx{}
	_ sqlitedb.DBTX = (*recorder)(nil)
)
