package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// BlobPut stores data under its SHA-256 after checking the digest.
func (s *Store) BlobPut(ctx context.Context, digest string, data []byte) error {
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != digest {
		return fmt.Errorf("put blob %s: content has SHA-256 %s", digest, got)
	}
	if data == nil {
		data = []byte{} // nil would bind as NULL
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO blobs (sha256, data, size, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (sha256) DO NOTHING`, digest, data, len(data), s.now()); err != nil {
		return fmt.Errorf("put blob %s: %w", digest, err)
	}
	return nil
}

// BlobGet returns the bytes stored under digest.
func (s *Store) BlobGet(ctx context.Context, digest string) ([]byte, error) {
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM blobs WHERE sha256 = $1`, digest).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", digest, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", digest, err)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// BlobExists reports whether a blob is stored.
func (s *Store) BlobExists(ctx context.Context, digest string) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM blobs WHERE sha256 = $1)`, digest).Scan(&ok); err != nil {
		return false, fmt.Errorf("check blob %s: %w", digest, err)
	}
	return ok, nil
}

// UsageInsert stores a batch of usage records with one INSERT over unnest()ed
// column arrays: one statement and one round trip whatever the batch size,
// and no per-statement parameter limit.
func (s *Store) UsageInsert(ctx context.Context, records []record.Usage) error {
	if len(records) == 0 {
		return nil
	}
	n := len(records)
	var (
		inv, fn, trig, trace, outcome, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		version, mem, status                = make([]int32, n), make([]int32, n), make([]int32, n)
		start                               = make([]time.Time, n)
		dur, billed                         = make([]int64, n), make([]int64, n)
		cold                                = make([]bool, n)
	)
	for i, u := range records {
		inv[i], fn[i], trig[i], trace[i], outcome[i], errs[i] = u.InvocationID, u.Function, u.Trigger, u.TraceID, u.Outcome, cleanText(u.Error)
		version[i], mem[i], status[i] = int32(u.Version), int32(u.MemoryMB), int32(u.Status)
		start[i], dur[i], billed[i], cold[i] = u.Start, int64(u.Duration), u.BilledMS, u.Cold
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO usage (invocation_id, function, version, trigger_kind, trace_id, start_at,
		duration_ns, billed_ms, memory_mb, cold, outcome, status, error)
		SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::timestamptz[],
			$7::int8[], $8::int8[], $9::int4[], $10::bool[], $11::text[], $12::int4[], $13::text[])`,
		inv, fn, version, trig, trace, start, dur, billed, mem, cold, outcome, status, errs)
	if err != nil {
		return fmt.Errorf("insert %d usage records: %w", n, err)
	}
	return nil
}

// UsageList returns usage records ordered by start time.
func (s *Store) UsageList(ctx context.Context, p store.UsageListParams) ([]record.Usage, error) {
	q := `SELECT invocation_id, function, version, trigger_kind, trace_id, start_at, duration_ns,
		billed_ms, memory_mb, cold, outcome, status, error FROM usage WHERE true`
	var args []any
	if p.Function != "" {
		args = append(args, p.Function)
		q += fmt.Sprintf(` AND function = $%d`, len(args))
	}
	if !p.Since.IsZero() {
		args = append(args, p.Since)
		q += fmt.Sprintf(` AND start_at >= $%d`, len(args))
	}
	q += ` ORDER BY start_at, id`
	if p.Limit > 0 {
		args = append(args, p.Limit)
		q += fmt.Sprintf(` LIMIT $%d`, len(args))
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Usage, error) {
		var u record.Usage
		var dur int64
		err := row.Scan(&u.InvocationID, &u.Function, &u.Version, &u.Trigger, &u.TraceID, &u.Start, &dur,
			&u.BilledMS, &u.MemoryMB, &u.Cold, &u.Outcome, &u.Status, &u.Error)
		u.Start, u.Duration = utc(u.Start), time.Duration(dur)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	return nilIfEmpty(out), nil
}

// UsageDeleteBefore deletes usage records that started before t.
func (s *Store) UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM usage WHERE start_at < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("delete usage before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}

// LogInsert stores lines and sets their IDs.
//
// Followers read "ID > last seen", so IDs must become visible in increasing
// order: with plain sequence defaults a batch that took ID 10 could commit
// after one that took 11, and a follower that saw 11 would skip 10 forever.
// So allocation and insert happen under a transaction-scoped advisory lock:
// the block of IDs is reserved with setval and the rows inserted with
// explicit IDs, all in one pipelined round trip that PostgreSQL runs as one
// implicit transaction (the lock is released at its commit).
func (s *Store) LogInsert(ctx context.Context, lines []record.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	n := len(lines)
	var (
		inv, fn, trace, stream, text = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		version                      = make([]int32, n)
		at                           = make([]time.Time, n)
	)
	for i, l := range lines {
		inv[i], fn[i], trace[i], stream[i], text[i] = l.InvocationID, l.Function, l.TraceID, l.Stream, cleanText(l.Line)
		version[i], at[i] = int32(l.Version), l.Time
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.lockKey("logs"))
	b.Queue(`SELECT setval('logs_id_seq', nextval('logs_id_seq') + $1 - 1)`, int64(n))
	b.Queue(`INSERT INTO logs (id, invocation_id, function, version, trace_id, logged_at, stream, line)
		SELECT currval('logs_id_seq') - $1 + u.ord, u.inv, u.fn, u.version, u.trace, u.at, u.stream, u.line
		FROM unnest($2::text[], $3::text[], $4::int4[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
			WITH ORDINALITY AS u(inv, fn, version, trace, at, stream, line, ord)`,
		int64(n), inv, fn, version, trace, at, stream, text)
	br := s.pool.SendBatch(ctx, b)
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
		return fmt.Errorf("insert %d log lines: %w", n, err)
	}
	for i := range lines {
		lines[i].ID = last - int64(n) + 1 + int64(i)
	}
	return nil
}

// LogList returns lines with ID > p.AfterID, oldest first.
func (s *Store) LogList(ctx context.Context, p store.LogListParams) ([]record.LogLine, error) {
	q := `SELECT id, invocation_id, function, version, trace_id, logged_at, stream, line FROM logs WHERE id > $1`
	args := []any{p.AfterID}
	if p.Function != "" {
		args = append(args, p.Function)
		q += fmt.Sprintf(` AND function = $%d`, len(args))
	}
	if p.InvocationID != "" {
		args = append(args, p.InvocationID)
		q += fmt.Sprintf(` AND invocation_id = $%d`, len(args))
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY id LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.LogLine, error) {
		var l record.LogLine
		err := row.Scan(&l.ID, &l.InvocationID, &l.Function, &l.Version, &l.TraceID, &l.Time, &l.Stream, &l.Line)
		l.Time = utc(l.Time)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	return nilIfEmpty(out), nil
}

// LogDeleteBefore deletes lines written before t.
func (s *Store) LogDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM logs WHERE logged_at < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("delete logs before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}

// TokenPut records a token; putting an existing hash renames and
// re-scopes it.
func (s *Store) TokenPut(ctx context.Context, t record.Token) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, name, project, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO UPDATE SET name = excluded.name, project = excluded.project`,
		t.Hash, t.Name, t.Project, s.now()); err != nil {
		return fmt.Errorf("put token %s: %w", t.Name, err)
	}
	return nil
}

// TokenGet returns the token with this hash.
func (s *Store) TokenGet(ctx context.Context, hash string) (*record.Token, error) {
	t := record.Token{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT name, project, created_at FROM tokens WHERE hash = $1`, hash).
		Scan(&t.Name, &t.Project, &t.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	t.CreatedAt = utc(t.CreatedAt)
	return &t, nil
}

// TokenList returns every token, oldest first.
func (s *Store) TokenList(ctx context.Context) ([]record.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT hash, name, project, created_at FROM tokens ORDER BY created_at, hash COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (record.Token, error) {
		var t record.Token
		err := row.Scan(&t.Hash, &t.Name, &t.Project, &t.CreatedAt)
		t.CreatedAt = utc(t.CreatedAt)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return nilIfEmpty(out), nil
}

// TokenDelete removes a token and reports whether it existed.
func (s *Store) TokenDelete(ctx context.Context, hash string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE hash = $1`, hash)
	if err != nil {
		return false, fmt.Errorf("delete token: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// TokenCount reports how many tokens exist.
func (s *Store) TokenCount(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}
