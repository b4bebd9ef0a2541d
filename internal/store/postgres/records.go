package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

// The records area of sqlstore.Queries: blobs, usage, logs and tokens.

func (q queries) BlobPut(ctx context.Context, digest string, data []byte, at time.Time) error {
	return q.Queries.BlobPut(ctx, digest, data, int64(len(data)), at)
}

func (q queries) BlobGet(ctx context.Context, digest string) ([]byte, error) {
	data, err := q.Queries.BlobGet(ctx, digest)
	return data, notFound(err)
}

// UsageInsert sends the batch as column arrays: one statement and one round
// trip whatever its size.
func (q queries) UsageInsert(ctx context.Context, records []record.Usage) error {
	n := len(records)
	a := pgdb.UsageInsertParams{
		InvocationID: make([]string, n), Function: make([]string, n), Version: make([]int32, n),
		TriggerKind: make([]string, n), TraceID: make([]string, n), StartAt: make([]time.Time, n),
		DurationNs: make([]int64, n), BilledMs: make([]int64, n), MemoryMb: make([]int32, n),
		Cold: make([]bool, n), Outcome: make([]string, n), Status: make([]int32, n), Error: make([]string, n),
	}
	for i, u := range records {
		a.InvocationID[i], a.Function[i], a.Version[i], a.TriggerKind[i] = u.InvocationID, u.Function, int32(u.Version), u.Trigger
		a.TraceID[i], a.StartAt[i], a.DurationNs[i], a.BilledMs[i] = u.TraceID, u.Start, int64(u.Duration), u.BilledMS
		a.MemoryMb[i], a.Cold[i], a.Outcome[i], a.Status[i] = int32(u.MemoryMB), u.Cold, u.Outcome, int32(u.Status)
		a.Error[i] = sqlstore.CleanText(u.Error)
	}
	return q.Queries.UsageInsert(ctx, a)
}

// UsageList is written by hand: each optional filter adds a condition, so
// the index on (function, start_at) serves a function's records.
func (q queries) UsageList(ctx context.Context, p store.UsageListParams) ([]record.Usage, error) {
	f := sqlstore.NewFilter(param)
	f.Eq("function", p.Function)
	if !p.Since.IsZero() {
		f.And("start_at >= " + f.Arg(p.Since))
	}
	limit := ""
	if p.Limit > 0 {
		limit = ` LIMIT ` + f.Arg(p.Limit)
	}
	rows, err := q.db.Query(ctx, `SELECT invocation_id, function, version, trigger_kind, trace_id, start_at,
		duration_ns, billed_ms, memory_mb, cold, outcome, status, error FROM usage WHERE true`+f.Where()+
		` ORDER BY start_at, id`+limit, f.Args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Usage, error) {
		var u record.Usage
		var dur int64
		err := row.Scan(&u.InvocationID, &u.Function, &u.Version, &u.Trigger, &u.TraceID, &u.Start, &dur,
			&u.BilledMS, &u.MemoryMB, &u.Cold, &u.Outcome, &u.Status, &u.Error)
		u.Start, u.Duration = utc(u.Start), time.Duration(dur)
		return u, err
	})
	return nilIfEmpty(out), err
}

// LogInsert is written by hand: it is one pipelined batch.
//
// Followers read "ID > last seen", so IDs must become visible in increasing
// order: with plain sequence defaults a batch that took ID 10 could commit
// after one that took 11, and a follower that saw 11 would skip 10 forever.
// So allocation and insert happen under a transaction-scoped advisory lock:
// the block of IDs is reserved with setval and the rows inserted with
// explicit IDs, all in one pipelined round trip that PostgreSQL runs as one
// implicit transaction (the lock is released at its commit).
func (q queries) LogInsert(ctx context.Context, lines []record.LogLine) error {
	n := len(lines)
	var (
		inv, fn, trace, span, stream = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		text                         = make([]string, n)
		version, level               = make([]int32, n), make([]int16, n)
		at                           = make([]time.Time, n)
	)
	for i, l := range lines {
		inv[i], fn[i], trace[i], span[i], stream[i], text[i] = l.InvocationID, l.Function, l.TraceID, l.SpanID, l.Stream, sqlstore.CleanText(l.Line)
		version[i], level[i], at[i] = int32(l.Version), int16(l.Level), l.Time
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, q.s.lockKey("logs"))
	b.Queue(`SELECT setval('logs_id_seq', nextval('logs_id_seq') + $1 - 1)`, int64(n))
	b.Queue(`INSERT INTO logs (id, invocation_id, function, version, trace_id, span_id, logged_at, stream, level, line)
		SELECT currval('logs_id_seq') - $1 + u.ord, u.inv, u.fn, u.version, u.trace, u.span, u.at, u.stream, u.level, u.line
		FROM unnest($2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::int2[], $10::text[])
			WITH ORDINALITY AS u(inv, fn, version, trace, span, at, stream, level, line, ord)`,
		int64(n), inv, fn, version, trace, span, at, stream, level, text)
	br := q.s.pool.SendBatch(ctx, b)
	var last int64
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&last)
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	for i := range lines {
		lines[i].ID = last - int64(n) + 1 + int64(i)
	}
	return nil
}

// LogList runs sqlstore.LogListQuery.
func (q queries) LogList(ctx context.Context, p store.LogListParams) ([]record.LogLine, error) {
	query, args := sqlstore.LogListQuery(param, p, p.Since, p.Until)
	rows, err := q.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.LogLine, error) {
		var l record.LogLine
		err := row.Scan(&l.ID, &l.InvocationID, &l.Function, &l.Version, &l.TraceID, &l.SpanID, &l.Time, &l.Stream, &l.Level, &l.Line)
		l.Time = utc(l.Time)
		return l, err
	})
	return nilIfEmpty(out), err
}

func (q queries) TokenPut(ctx context.Context, t record.Token) error {
	return q.Queries.TokenPut(ctx, pgdb.TokenPutParams{Hash: t.Hash, Name: t.Name, Project: t.Project, Scope: tokenScope(t), CreatedAt: t.CreatedAt})
}

func (q queries) TokenGet(ctx context.Context, hash string) (*record.Token, error) {
	r, err := q.Queries.TokenGet(ctx, hash)
	return sqlstore.One(r, notFound(err), token)
}

func (q queries) TokenList(ctx context.Context) ([]record.Token, error) {
	rows, err := q.Queries.TokenList(ctx)
	return sqlstore.Rows(rows, token), err
}

func token(r pgdb.Token) record.Token {
	t := record.Token{Hash: r.Hash, Name: r.Name, Project: r.Project, Scope: r.Scope, CreatedAt: utc(r.CreatedAt)}
	if r.LastUsedAt != nil {
		t.LastUsedAt = utc(*r.LastUsedAt)
	}
	return t
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
	return q.Queries.TokenTouch(ctx, &at, hash)
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
	stmt, args := sqlstore.UsageSeriesQuery(param, p, "CAST(EXTRACT(EPOCH FROM start_at) * 1000000 AS BIGINT)", p.Since, p.Until)
	rows, err := q.db.Query(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.UsagePoint, error) {
		var pt store.UsagePoint
		var bucket int64
		err := row.Scan(&pt.Function, &bucket, &pt.Outcome, &pt.Class, &pt.Count, &pt.Cold, &pt.BilledMS, &pt.MBMS)
		pt.Bucket = time.UnixMicro(bucket).UTC()
		return pt, err
	})
	return nilIfEmpty(out), err
}
