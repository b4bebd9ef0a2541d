package sqlite

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The traces area of sqlstore.Queries: the built-in trace store.

// SpanLock is a no-op: the single writer already serialises span writers.
func (q queries) SpanLock(context.Context) error { return nil }

const spanCols = 13

// SpanInsert runs one multi-row INSERT per chunk (by hand, as UsageInsert);
// OR IGNORE leaves a span already stored as it is.
func (q queries) SpanInsert(ctx context.Context, spans []store.Span) error {
	for start := 0; start < len(spans); start += insertChunk {
		chunk := spans[start:min(start+insertChunk, len(spans))]
		args := make([]any, 0, len(chunk)*spanCols)
		for _, sp := range chunk {
			attrs, events, err := sqlstore.SpanJSON(sp)
			if err != nil {
				return err
			}
			args = append(args, sp.TraceID, sp.SpanID, sp.ParentID, sp.Project, sp.Function, sp.Name, sp.Kind,
				micros(sp.Start), int64(sp.Duration), sp.Status, sp.StatusMessage, string(attrs), string(events))
		}
		if _, err := q.db.ExecContext(ctx, `INSERT OR IGNORE INTO spans (trace_id, span_id, parent_id, project, function,
			name, kind, start_at, duration_ns, status, status_message, attributes, events) VALUES `+
			placeholders(len(chunk), spanCols), args...); err != nil {
			return err
		}
	}
	return nil
}

func (q queries) SpanHeads(ctx context.Context, traceIDs []string) ([]store.Span, error) {
	rows, err := q.Queries.SpanHeads(ctx, traceIDs)
	return sqlstore.Rows(rows, func(r sqlitedb.SpanHeadsRow) store.Span {
		return store.Span{TraceID: r.TraceID, SpanID: r.SpanID, ParentID: r.ParentID, Project: r.Project, Function: r.Function,
			Name: r.Name, Start: fromMicros(r.StartAt), Duration: time.Duration(r.DurationNs), Status: r.Status}
	}), err
}

func (q queries) TraceSummaryDelete(ctx context.Context, traceIDs []string) error {
	if err := q.Queries.TraceSummaryDelete(ctx, traceIDs); err != nil {
		return err
	}
	return q.Queries.TraceProjectsDelete(ctx, traceIDs)
}

const summaryCols = 9

// TraceSummaryInsert runs one multi-row INSERT per table and chunk.
func (q queries) TraceSummaryInsert(ctx context.Context, whole, projects []sqlstore.TraceRow) error {
	for _, t := range []struct {
		table string
		rows  []sqlstore.TraceRow
	}{{"traces", whole}, {"trace_projects", projects}} {
		for start := 0; start < len(t.rows); start += insertChunk {
			chunk := t.rows[start:min(start+insertChunk, len(t.rows))]
			args := make([]any, 0, len(chunk)*summaryCols)
			for _, r := range chunk {
				args = append(args, r.TraceID, r.Project, r.Name, r.Function, micros(r.Start), int64(r.Duration), r.Spans, r.Errors, r.Functions)
			}
			if _, err := q.db.ExecContext(ctx, `INSERT INTO `+t.table+` (trace_id, project, name, function, start_at,
				duration_ns, spans, errors, functions) VALUES `+placeholders(len(chunk), summaryCols), args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// TraceList runs sqlstore.TraceListQuery.
func (q queries) TraceList(ctx context.Context, p store.TraceListParams) ([]store.TraceSummary, error) {
	query, args := sqlstore.TraceListQuery(param, p, micros(p.Since), micros(p.Before),
		func(col, arg string) string { return "instr(" + col + ", " + arg + ") > 0" })
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TraceSummary
	for rows.Next() {
		var t store.TraceSummary
		var start, dur int64
		if err := rows.Scan(&t.TraceID, &t.Name, &t.Project, &t.Function, &start, &dur, &t.Spans, &t.Errors); err != nil {
			return nil, err
		}
		t.Start, t.Duration = fromMicros(start), time.Duration(dur)
		out = append(out, t)
	}
	return out, rows.Err()
}

func (q queries) TraceGet(ctx context.Context, traceID, project string) ([]store.Span, error) {
	rows, err := q.Queries.TraceGet(ctx, traceID, project)
	if err != nil {
		return nil, err
	}
	return sqlstore.RowsErr(rows, func(r sqlitedb.Span) (store.Span, error) {
		sp := store.Span{TraceID: r.TraceID, SpanID: r.SpanID, ParentID: r.ParentID, Project: r.Project, Function: r.Function,
			Name: r.Name, Kind: r.Kind, Start: fromMicros(r.StartAt), Duration: time.Duration(r.DurationNs),
			Status: r.Status, StatusMessage: r.StatusMessage}
		return sp, sqlstore.SpanFromJSON(&sp, []byte(r.Attributes), []byte(r.Events))
	})
}

func (q queries) SpanDeleteOldest(ctx context.Context, before time.Time, limit int) ([]string, error) {
	return q.Queries.SpanDeleteOldest(ctx, micros(before), int64(limit))
}
