package sqlite

import (
	"context"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The records area of sqlstore.Queries: blobs, usage, logs and tokens.

func (q queries) BlobPut(ctx context.Context, digest string, data []byte, at time.Time) error {
	return q.Queries.BlobPut(ctx, digest, data, int64(len(data)), micros(at))
}

func (q queries) BlobGet(ctx context.Context, digest string) ([]byte, error) {
	data, err := q.Queries.BlobGet(ctx, digest)
	return data, notFound(err)
}

// Rows per multi-row INSERT. SQLite allows 32766 bound parameters per
// statement; 14 columns x 500 rows stays well below.
const insertChunk = 500

const usageCols = 13

// UsageInsert runs one multi-row INSERT per chunk of rows, written by hand:
// sqlc has no form for a VALUES list whose length is known only at run time.
func (q queries) UsageInsert(ctx context.Context, records []record.Usage) error {
	for start := 0; start < len(records); start += insertChunk {
		chunk := records[start:min(start+insertChunk, len(records))]
		args := make([]any, 0, len(chunk)*usageCols)
		for _, u := range chunk {
			args = append(args, u.InvocationID, u.Function, u.Version, u.Trigger, u.TraceID, micros(u.Start),
				int64(u.Duration), u.BilledMS, u.MemoryMB, u.Cold, u.Outcome, u.Status, sqlstore.CleanText(u.Error))
		}
		if _, err := q.db.ExecContext(ctx, `INSERT INTO usage (invocation_id, function, version, trigger_kind, trace_id,
			start_at, duration_ns, billed_ms, memory_mb, cold, outcome, status, error) VALUES `+
			placeholders(len(chunk), usageCols), args...); err != nil {
			return err
		}
	}
	return nil
}

// UsageList is written by hand: each optional filter adds a condition, so
// the index on (function, start_at) serves a function's records.
func (q queries) UsageList(ctx context.Context, p store.UsageListParams) ([]record.Usage, error) {
	f := sqlstore.NewFilter(param)
	f.Eq("function", p.Function)
	if !p.Since.IsZero() {
		f.And("start_at >= " + f.Arg(micros(p.Since)))
	}
	limit := ""
	if p.Limit > 0 {
		limit = ` LIMIT ` + f.Arg(p.Limit)
	}
	rows, err := q.db.QueryContext(ctx, `SELECT invocation_id, function, version, trigger_kind, trace_id, start_at,
		duration_ns, billed_ms, memory_mb, cold, outcome, status, error FROM usage WHERE 1 = 1`+f.Where()+
		` ORDER BY start_at, id`+limit, f.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.Usage
	for rows.Next() {
		var u record.Usage
		var start, dur int64
		if err := rows.Scan(&u.InvocationID, &u.Function, &u.Version, &u.Trigger, &u.TraceID, &start, &dur,
			&u.BilledMS, &u.MemoryMB, &u.Cold, &u.Outcome, &u.Status, &u.Error); err != nil {
			return nil, err
		}
		u.Start, u.Duration = fromMicros(start), time.Duration(dur)
		out = append(out, u)
	}
	return out, rows.Err()
}

func (q queries) UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	return q.Queries.UsageDeleteBefore(ctx, micros(t))
}

const logCols = 9

// LogInsert runs one multi-row INSERT per chunk (by hand, as UsageInsert).
// The single writer means nobody else inserts in between, so the rows of
// one INSERT get consecutive IDs ending at last_insert_rowid, in VALUES
// order.
func (q queries) LogInsert(ctx context.Context, lines []record.LogLine) error {
	for start := 0; start < len(lines); start += insertChunk {
		chunk := lines[start:min(start+insertChunk, len(lines))]
		args := make([]any, 0, len(chunk)*logCols)
		for _, l := range chunk {
			args = append(args, l.InvocationID, l.Function, l.Version, l.TraceID, l.SpanID, micros(l.Time), l.Stream, int(l.Level), sqlstore.CleanText(l.Line))
		}
		res, err := q.db.ExecContext(ctx, `INSERT INTO logs (invocation_id, function, version, trace_id, span_id, logged_at, stream, level, line) VALUES `+
			placeholders(len(chunk), logCols), args...)
		if err != nil {
			return err
		}
		last, err := res.LastInsertId()
		if err != nil {
			return err
		}
		first := last - int64(len(chunk)) + 1
		for i := range chunk {
			chunk[i].ID = first + int64(i)
		}
	}
	return nil
}

// LogList runs sqlstore.LogListQuery.
func (q queries) LogList(ctx context.Context, p store.LogListParams) ([]record.LogLine, error) {
	query, args := sqlstore.LogListQuery(param, p, micros(p.Since), micros(p.Until))
	rows, err := q.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []record.LogLine
	for rows.Next() {
		var l record.LogLine
		var at int64
		if err := rows.Scan(&l.ID, &l.InvocationID, &l.Function, &l.Version, &l.TraceID, &l.SpanID, &at, &l.Stream, &l.Level, &l.Line); err != nil {
			return nil, err
		}
		l.Time = fromMicros(at)
		out = append(out, l)
	}
	return out, rows.Err()
}

func (q queries) LogDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	return q.Queries.LogDeleteBefore(ctx, micros(t))
}

func (q queries) TokenPut(ctx context.Context, t record.Token) error {
	return q.Queries.TokenPut(ctx, sqlitedb.TokenPutParams{Hash: t.Hash, Name: t.Name, Project: t.Project, Scope: tokenScope(t), CreatedAt: micros(t.CreatedAt)})
}

func (q queries) TokenGet(ctx context.Context, hash string) (*record.Token, error) {
	r, err := q.Queries.TokenGet(ctx, hash)
	return sqlstore.One(r, notFound(err), token)
}

func (q queries) TokenList(ctx context.Context) ([]record.Token, error) {
	rows, err := q.Queries.TokenList(ctx)
	return sqlstore.Rows(rows, token), err
}

func token(r sqlitedb.Token) record.Token {
	return record.Token{Hash: r.Hash, Name: r.Name, Project: r.Project, Scope: r.Scope, CreatedAt: fromMicros(r.CreatedAt), LastUsedAt: fromNullMicros(r.LastUsedAt)}
}

// tokenScope is the scope a token is stored with: admin unless given,
// as every token was before scopes.
func tokenScope(t record.Token) string {
	if t.Scope == "" {
		return record.ScopeAdmin
	}
	return t.Scope
}

func (q queries) TokenTouch(ctx context.Context, hash string, at time.Time) error {
	return q.Queries.TokenTouch(ctx, nullMicros(at), hash)
}

func (q queries) SettingClaim(ctx context.Context, name, value string) error {
	return q.Queries.SettingClaim(ctx, name, value)
}

func (q queries) SettingGet(ctx context.Context, name string) (string, error) {
	v, err := q.Queries.SettingGet(ctx, name)
	return v, notFound(err)
}

func (q queries) TokenDelete(ctx context.Context, hash string) (bool, error) {
	n, err := q.Queries.TokenDelete(ctx, hash)
	return n > 0, err
}

func (q queries) TokenCount(ctx context.Context) (int, error) {
	n, err := q.Queries.TokenCount(ctx)
	return int(n), err
}

// UsageSeries groups in the database (sqlstore.UsageSeriesQuery).
func (q queries) UsageSeries(ctx context.Context, p store.UsageSeriesParams) ([]store.UsagePoint, error) {
	stmt, args := sqlstore.UsageSeriesQuery(param, p, "start_at", micros(p.Since), micros(p.Until))
	rows, err := q.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.UsagePoint
	for rows.Next() {
		var pt store.UsagePoint
		var bucket int64
		if err := rows.Scan(&pt.Function, &bucket, &pt.Outcome, &pt.Class, &pt.Count, &pt.Cold, &pt.BilledMS, &pt.MBMS); err != nil {
			return nil, err
		}
		pt.Bucket = fromMicros(bucket)
		out = append(out, pt)
	}
	return out, rows.Err()
}
