package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The traces area of sqlstore.Queries: the built-in trace store.

// SpanLock takes a transaction-scoped advisory lock: two nodes inserting
// spans of one trace at once would each re-summarise it without the
// other's (uncommitted) spans. It also plans the transaction's statements
// afresh each time (force_custom_plan): pgx prepares them, and a generic
// plan made while the tables were small (before autovacuum's first
// ANALYZE) kept scanning whole tables: BenchmarkSpanInsert512 took 117 ms
// a batch by 50,000 spans, 23 ms with this.
func (q queries) SpanLock(ctx context.Context) error {
	_, err := q.db.Exec(ctx, `SELECT pg_advisory_xact_lock($1), set_config('plan_cache_mode', 'force_custom_plan', true)`,
		q.s.lockKey("spans"))
	return err
}

// SpanInsert sends the batch as column arrays (one statement, one round
// trip).
func (q queries) SpanInsert(ctx context.Context, spans []store.Span) error {
	n := len(spans)
	a := pgdb.SpanInsertParams{
		TraceID: make([]string, n), SpanID: make([]string, n), ParentID: make([]string, n), Project: make([]string, n),
		Function: make([]string, n), Name: make([]string, n), Kind: make([]string, n), StartAt: make([]time.Time, n),
		DurationNs: make([]int64, n), Status: make([]string, n), StatusMessage: make([]string, n),
		Attributes: make([]string, n), Events: make([]string, n),
	}
	for i, sp := range spans {
		attrs, events, err := sqlstore.SpanJSON(sp)
		if err != nil {
			return err
		}
		a.TraceID[i], a.SpanID[i], a.ParentID[i], a.Project[i] = sp.TraceID, sp.SpanID, sp.ParentID, sp.Project
		a.Function[i], a.Name[i], a.Kind[i], a.StartAt[i] = sp.Function, sp.Name, sp.Kind, sp.Start
		a.DurationNs[i], a.Status[i], a.StatusMessage[i] = int64(sp.Duration), sp.Status, sp.StatusMessage
		a.Attributes[i], a.Events[i] = string(attrs), string(events)
	}
	return q.Queries.SpanInsert(ctx, a)
}

func (q queries) SpanHeads(ctx context.Context, traceIDs []string) ([]store.Span, error) {
	rows, err := q.Queries.SpanHeads(ctx, traceIDs)
	return sqlstore.Rows(rows, func(r pgdb.SpanHeadsRow) store.Span {
		return store.Span{TraceID: r.TraceID, SpanID: r.SpanID, ParentID: r.ParentID, Project: r.Project, Function: r.Function,
			Name: r.Name, Start: utc(r.StartAt), Duration: time.Duration(r.DurationNs), Status: r.Status}
	}), err
}

func (q queries) TraceSummaryDelete(ctx context.Context, traceIDs []string) error {
	if err := q.Queries.TraceSummaryDelete(ctx, traceIDs); err != nil {
		return err
	}
	return q.Queries.TraceProjectsDelete(ctx, traceIDs)
}

// summaryColumns is a batch of summary rows as column arrays.
type summaryColumns struct {
	traceID, project, name, function, functions []string
	start                                       []time.Time
	duration                                    []int64
	spans, errors                               []int32
}

func columns(rows []sqlstore.TraceRow) summaryColumns {
	n := len(rows)
	c := summaryColumns{traceID: make([]string, n), project: make([]string, n), name: make([]string, n),
		function: make([]string, n), functions: make([]string, n), start: make([]time.Time, n),
		duration: make([]int64, n), spans: make([]int32, n), errors: make([]int32, n)}
	for i, r := range rows {
		c.traceID[i], c.project[i], c.name[i], c.function[i], c.functions[i] = r.TraceID, r.Project, r.Name, r.Function, r.Functions
		c.start[i], c.duration[i], c.spans[i], c.errors[i] = r.Start, int64(r.Duration), int32(r.Spans), int32(r.Errors)
	}
	return c
}

func (q queries) TraceSummaryInsert(ctx context.Context, whole, projects []sqlstore.TraceRow) error {
	if len(whole) > 0 {
		c := columns(whole)
		if err := q.Queries.TraceSummaryInsert(ctx, pgdb.TraceSummaryInsertParams{TraceID: c.traceID, Name: c.name,
			Project: c.project, Function: c.function, StartAt: c.start, DurationNs: c.duration, Spans: c.spans,
			Errors: c.errors, Functions: c.functions}); err != nil {
			return err
		}
	}
	if len(projects) > 0 {
		c := columns(projects)
		return q.Queries.TraceProjectsInsert(ctx, pgdb.TraceProjectsInsertParams{TraceID: c.traceID, Project: c.project,
			Name: c.name, Function: c.function, StartAt: c.start, DurationNs: c.duration, Spans: c.spans,
			Errors: c.errors, Functions: c.functions})
	}
	return nil
}

// TraceList runs sqlstore.TraceListQuery.
func (q queries) TraceList(ctx context.Context, p store.TraceListParams) ([]store.TraceSummary, error) {
	query, args := sqlstore.TraceListQuery(param, p, p.Since, p.Before,
		func(col, arg string) string { return "strpos(" + col + ", " + arg + ") > 0" })
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.TraceSummary, error) {
		var t store.TraceSummary
		var dur int64
		err := row.Scan(&t.TraceID, &t.Name, &t.Project, &t.Function, &t.Start, &dur, &t.Spans, &t.Errors)
		t.Start, t.Duration = utc(t.Start), time.Duration(dur)
		return t, err
	})
	return nilIfEmpty(out), err
}

func (q queries) TraceGet(ctx context.Context, traceID, project string) ([]store.Span, error) {
	rows, err := q.Queries.TraceGet(ctx, traceID, project)
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, func(r pgdb.Span) (store.Span, error) {
		sp := store.Span{TraceID: r.TraceID, SpanID: r.SpanID, ParentID: r.ParentID, Project: r.Project, Function: r.Function,
			Name: r.Name, Kind: r.Kind, Start: utc(r.StartAt), Duration: time.Duration(r.DurationNs),
			Status: r.Status, StatusMessage: r.StatusMessage}
		return sp, sqlstore.SpanFromJSON(&sp, r.Attributes, r.Events)
	})
}

func (q queries) SpanDeleteOldest(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return q.Queries.SpanDeleteOldest(ctx, before, int32(limit))
}
