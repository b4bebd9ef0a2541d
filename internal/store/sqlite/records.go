package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

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
	if _, err := s.exec(ctx, `INSERT INTO blobs (sha256, data, size, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (sha256) DO NOTHING`, digest, data, len(data), micros(s.now())); err != nil {
		return fmt.Errorf("put blob %s: %w", digest, err)
	}
	return nil
}

// BlobGet returns the bytes stored under digest.
func (s *Store) BlobGet(ctx context.Context, digest string) ([]byte, error) {
	var data []byte
	err := s.r.QueryRowContext(ctx, `SELECT data FROM blobs WHERE sha256 = ?`, digest).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("blob %s: %w", digest, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", digest, err)
	}
	if data == nil {
		data = []byte{} // an empty blob exists; keep it distinguishable from "no data"
	}
	return data, nil
}

// BlobExists reports whether a blob is stored.
func (s *Store) BlobExists(ctx context.Context, digest string) (bool, error) {
	var one int
	err := s.r.QueryRowContext(ctx, `SELECT 1 FROM blobs WHERE sha256 = ?`, digest).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check blob %s: %w", digest, err)
	}
	return true, nil
}

// Rows per multi-row INSERT. SQLite allows 32766 bound parameters per
// statement; 14 columns x 500 rows stays well below.
const insertChunk = 500

const usageCols = 13

// UsageInsert stores a batch of usage records in one transaction, with one
// multi-row INSERT per chunk of rows: it runs after every invocation, so one
// commit (one fsync) per batch is what keeps it cheap.
func (s *Store) UsageInsert(ctx context.Context, records []record.Usage) error {
	if len(records) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(records); start += insertChunk {
			chunk := records[start:min(start+insertChunk, len(records))]
			q := `INSERT INTO usage (invocation_id, function, version, trigger_kind, trace_id, start_at, duration_ns,
				billed_ms, memory_mb, cold, outcome, status, error) VALUES ` + placeholders(len(chunk), usageCols)
			args := make([]any, 0, len(chunk)*usageCols)
			for _, u := range chunk {
				args = append(args, u.InvocationID, u.Function, u.Version, u.Trigger, u.TraceID, micros(u.Start),
					int64(u.Duration), u.BilledMS, u.MemoryMB, u.Cold, u.Outcome, u.Status, cleanText(u.Error))
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d usage records: %w", len(records), err)
	}
	return nil
}

// UsageList returns usage records ordered by start time.
func (s *Store) UsageList(ctx context.Context, p store.UsageListParams) ([]record.Usage, error) {
	q := `SELECT invocation_id, function, version, trigger_kind, trace_id, start_at, duration_ns,
		billed_ms, memory_mb, cold, outcome, status, error FROM usage WHERE 1 = 1`
	var args []any
	if p.Function != "" {
		q += ` AND function = ?`
		args = append(args, p.Function)
	}
	if !p.Since.IsZero() {
		q += ` AND start_at >= ?`
		args = append(args, micros(p.Since))
	}
	q += ` ORDER BY start_at, id`
	if p.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, p.Limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	defer rows.Close()
	var out []record.Usage
	for rows.Next() {
		var u record.Usage
		var start, dur int64
		if err := rows.Scan(&u.InvocationID, &u.Function, &u.Version, &u.Trigger, &u.TraceID, &start, &dur,
			&u.BilledMS, &u.MemoryMB, &u.Cold, &u.Outcome, &u.Status, &u.Error); err != nil {
			return nil, fmt.Errorf("list usage: %w", err)
		}
		u.Start, u.Duration = fromMicros(start), time.Duration(dur)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	return out, nil
}

// UsageDeleteBefore deletes usage records that started before t.
func (s *Store) UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM usage WHERE start_at < ?`, micros(t))
	if err != nil {
		return 0, fmt.Errorf("delete usage before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return res.RowsAffected()
}

const logCols = 7

// LogInsert stores lines in one transaction and sets their IDs. The single
// writer means nobody else inserts in between, so the rows of one INSERT get
// consecutive IDs ending at last_insert_rowid, in VALUES order.
func (s *Store) LogInsert(ctx context.Context, lines []record.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for start := 0; start < len(lines); start += insertChunk {
			chunk := lines[start:min(start+insertChunk, len(lines))]
			q := `INSERT INTO logs (invocation_id, function, version, trace_id, logged_at, stream, line) VALUES ` +
				placeholders(len(chunk), logCols)
			args := make([]any, 0, len(chunk)*logCols)
			for _, l := range chunk {
				args = append(args, l.InvocationID, l.Function, l.Version, l.TraceID, micros(l.Time), l.Stream, cleanText(l.Line))
			}
			res, err := tx.ExecContext(ctx, q, args...)
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
	})
	if err != nil {
		for i := range lines {
			lines[i].ID = 0 // rolled back: the IDs were never visible
		}
		return fmt.Errorf("insert %d log lines: %w", len(lines), err)
	}
	return nil
}

// LogList returns lines with ID > p.AfterID, oldest first.
func (s *Store) LogList(ctx context.Context, p store.LogListParams) ([]record.LogLine, error) {
	q := `SELECT id, invocation_id, function, version, trace_id, logged_at, stream, line FROM logs WHERE id > ?`
	args := []any{p.AfterID}
	if p.Function != "" {
		q += ` AND function = ?`
		args = append(args, p.Function)
	}
	if p.InvocationID != "" {
		q += ` AND invocation_id = ?`
		args = append(args, p.InvocationID)
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	defer rows.Close()
	var out []record.LogLine
	for rows.Next() {
		var l record.LogLine
		var at int64
		if err := rows.Scan(&l.ID, &l.InvocationID, &l.Function, &l.Version, &l.TraceID, &at, &l.Stream, &l.Line); err != nil {
			return nil, fmt.Errorf("list logs: %w", err)
		}
		l.Time = fromMicros(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	return out, nil
}

// LogDeleteBefore deletes lines written before t.
func (s *Store) LogDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM logs WHERE logged_at < ?`, micros(t))
	if err != nil {
		return 0, fmt.Errorf("delete logs before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return res.RowsAffected()
}

// TokenPut records a token; putting an existing hash renames and
// re-scopes it.
func (s *Store) TokenPut(ctx context.Context, t record.Token) error {
	if _, err := s.exec(ctx, `INSERT INTO tokens (hash, name, project, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET name = excluded.name, project = excluded.project`,
		t.Hash, t.Name, t.Project, micros(s.now())); err != nil {
		return fmt.Errorf("put token %s: %w", t.Name, err)
	}
	return nil
}

// TokenGet returns the token with this hash.
func (s *Store) TokenGet(ctx context.Context, hash string) (*record.Token, error) {
	t := record.Token{Hash: hash}
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT name, project, created_at FROM tokens WHERE hash = ?`, hash).
		Scan(&t.Name, &t.Project, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// TokenList returns every token, oldest first.
func (s *Store) TokenList(ctx context.Context) ([]record.Token, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT hash, name, project, created_at FROM tokens ORDER BY created_at, hash`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var out []record.Token
	for rows.Next() {
		var t record.Token
		var created int64
		if err := rows.Scan(&t.Hash, &t.Name, &t.Project, &created); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		t.CreatedAt = fromMicros(created)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return out, nil
}

// TokenDelete removes a token and reports whether it existed.
func (s *Store) TokenDelete(ctx context.Context, hash string) (bool, error) {
	res, err := s.exec(ctx, `DELETE FROM tokens WHERE hash = ?`, hash)
	if err != nil {
		return false, fmt.Errorf("delete token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete token: %w", err)
	}
	return n > 0, nil
}

// TokenCount reports how many tokens exist.
func (s *Store) TokenCount(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// exec runs one write statement in its own IMMEDIATE transaction: as a bare
// autocommit statement it could fail with SQLITE_BUSY instead of waiting when
// another process shares the file.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	return res, err
}

// cleanText replaces NUL and invalid UTF-8 in guest-provided text, as the
// PostgreSQL backend must (its text type holds neither), so both backends
// return the same line.
func cleanText(s string) string {
	if !strings.ContainsRune(s, 0) && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// placeholders returns "(?, ?), (?, ?)" for rows rows of cols columns.
func placeholders(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	var b strings.Builder
	b.Grow(rows * (len(row) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	return b.String()
}
