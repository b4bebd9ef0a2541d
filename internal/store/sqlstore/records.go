package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// RecordQueries are the statements on blobs, usage, logs and tokens.
type RecordQueries interface {
	// BlobPut stores data under digest unless it is there already.
	BlobPut(ctx context.Context, digest string, data []byte, at time.Time) error
	BlobGet(ctx context.Context, digest string) ([]byte, error)
	BlobExists(ctx context.Context, digest string) (bool, error)

	// UsageInsert stores a batch in as few statements as the dialect
	// allows, with error texts through CleanText.
	UsageInsert(ctx context.Context, records []record.Usage) error
	// UsageList applies p's filters, ordered by start time then id.
	UsageList(ctx context.Context, p store.UsageListParams) ([]record.Usage, error)
	UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error)
	// UsageSeries runs UsageSeriesQuery (p.Functions is not empty).
	UsageSeries(ctx context.Context, p store.UsageSeriesParams) ([]store.UsagePoint, error)

	// LogInsert stores lines and sets their IDs, which become visible in
	// increasing order (followers read "ID > last seen"), with the text
	// through CleanText.
	LogInsert(ctx context.Context, lines []record.LogLine) error
	// LogList returns lines with ID > p.AfterID matching p, by ID, at most
	// p.Limit (already defaulted).
	LogList(ctx context.Context, p store.LogListParams) ([]record.LogLine, error)
	LogDeleteBefore(ctx context.Context, t time.Time) (int64, error)

	// TokenPut inserts a token, or renames and re-scopes an existing hash
	// (keeping its creation time).
	TokenPut(ctx context.Context, t record.Token) error
	TokenGet(ctx context.Context, hash string) (*record.Token, error)
	// TokenList returns every token, oldest first, then by hash.
	TokenList(ctx context.Context) ([]record.Token, error)
	TokenDelete(ctx context.Context, hash string) (bool, error)
	TokenCount(ctx context.Context) (int, error)
	TokenTouch(ctx context.Context, hash string, at time.Time) error
	SettingClaim(ctx context.Context, name, value string) error
	SettingGet(ctx context.Context, name string) (string, error)
}

// BlobPut stores data under its SHA-256 after checking the digest.
func (s *Store) BlobPut(ctx context.Context, digest string, data []byte) error {
	defer s.op("BlobPut", time.Now())
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != digest {
		return fmt.Errorf("put blob %s: content has SHA-256 %s", digest, got)
	}
	if data == nil {
		data = []byte{} // nil would bind as NULL
	}
	if err := s.d.Write(ctx, func(q Queries) error { return q.BlobPut(ctx, digest, data, s.nowUTC()) }); err != nil {
		return fmt.Errorf("put blob %s: %w", digest, err)
	}
	return nil
}

// BlobGet returns the bytes stored under digest.
func (s *Store) BlobGet(ctx context.Context, digest string) ([]byte, error) {
	defer s.op("BlobGet", time.Now())
	data, err := s.d.Read().BlobGet(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
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
	defer s.op("BlobExists", time.Now())
	ok, err := s.d.Read().BlobExists(ctx, digest)
	if err != nil {
		return false, fmt.Errorf("check blob %s: %w", digest, err)
	}
	return ok, nil
}

// UsageInsert stores a batch of usage records as one write: it runs after
// every invocation, so one commit (one fsync) per batch is what keeps it
// cheap.
func (s *Store) UsageInsert(ctx context.Context, records []record.Usage) error {
	defer s.op("UsageInsert", time.Now())
	if len(records) == 0 {
		return nil
	}
	if err := s.d.Write(ctx, func(q Queries) error { return q.UsageInsert(ctx, records) }); err != nil {
		return fmt.Errorf("insert %d usage records: %w", len(records), err)
	}
	return nil
}

// UsageList returns usage records ordered by start time.
func (s *Store) UsageList(ctx context.Context, p store.UsageListParams) ([]record.Usage, error) {
	defer s.op("UsageList", time.Now())
	us, err := s.d.Read().UsageList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list usage: %w", err)
	}
	return us, nil
}

// UsageSeries aggregates usage records into buckets (UsageSeriesQuery).
func (s *Store) UsageSeries(ctx context.Context, p store.UsageSeriesParams) ([]store.UsagePoint, error) {
	if p.Functions != nil && len(p.Functions) == 0 {
		return nil, nil
	}
	if p.Bucket < time.Second {
		return nil, fmt.Errorf("usage series: bucket %v is under a second", p.Bucket)
	}
	pts, err := s.d.Read().UsageSeries(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("usage series: %w", err)
	}
	return pts, nil
}

// UsageDeleteBefore deletes usage records that started before t.
func (s *Store) UsageDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	defer s.op("UsageDeleteBefore", time.Now())
	var n int64
	err := s.d.Write(ctx, func(q Queries) (err error) { n, err = q.UsageDeleteBefore(ctx, t); return err })
	if err != nil {
		return 0, fmt.Errorf("delete usage before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// LogInsert stores lines and sets their IDs.
func (s *Store) LogInsert(ctx context.Context, lines []record.LogLine) error {
	defer s.op("LogInsert", time.Now())
	if len(lines) == 0 {
		return nil
	}
	for i := range lines {
		if lines[i].Level == 0 {
			lines[i].Level = record.LevelInfo // unclassified lines read back as info
		}
	}
	if err := s.d.Write(ctx, func(q Queries) error { return q.LogInsert(ctx, lines) }); err != nil {
		for i := range lines {
			lines[i].ID = 0 // rolled back: the IDs were never visible
		}
		return fmt.Errorf("insert %d log lines: %w", len(lines), err)
	}
	return nil
}

// LogList returns lines with ID > p.AfterID, oldest first.
func (s *Store) LogList(ctx context.Context, p store.LogListParams) ([]record.LogLine, error) {
	defer s.op("LogList", time.Now())
	if p.Limit <= 0 {
		p.Limit = 1000
	}
	ls, err := s.d.Read().LogList(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	if p.Tail > 0 {
		slices.Reverse(ls) // the backends read the tail newest first
	}
	return ls, nil
}

// LogDeleteBefore deletes lines written before t.
func (s *Store) LogDeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	defer s.op("LogDeleteBefore", time.Now())
	var n int64
	err := s.d.Write(ctx, func(q Queries) (err error) { n, err = q.LogDeleteBefore(ctx, t); return err })
	if err != nil {
		return 0, fmt.Errorf("delete logs before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return n, nil
}

// TokenPut records a token; putting an existing hash renames and
// re-scopes it.
func (s *Store) TokenPut(ctx context.Context, t record.Token) error {
	defer s.op("TokenPut", time.Now())
	t.CreatedAt = s.nowUTC()
	if err := s.d.Write(ctx, func(q Queries) error { return q.TokenPut(ctx, t) }); err != nil {
		return fmt.Errorf("put token %s: %w", t.Name, err)
	}
	return nil
}

// TokenGet returns the token with this hash.
func (s *Store) TokenGet(ctx context.Context, hash string) (*record.Token, error) {
	defer s.op("TokenGet", time.Now())
	t, err := s.d.Read().TokenGet(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get token: %w", err)
	}
	return t, nil
}

// TokenList returns every token, oldest first.
func (s *Store) TokenList(ctx context.Context) ([]record.Token, error) {
	defer s.op("TokenList", time.Now())
	ts, err := s.d.Read().TokenList(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// TokenDelete removes a token and reports whether it existed.
func (s *Store) TokenDelete(ctx context.Context, hash string) (bool, error) {
	defer s.op("TokenDelete", time.Now())
	var ok bool
	err := s.d.Write(ctx, func(q Queries) (err error) { ok, err = q.TokenDelete(ctx, hash); return err })
	if err != nil {
		return false, fmt.Errorf("delete token: %w", err)
	}
	return ok, nil
}

// TokenCount reports how many tokens exist.
func (s *Store) TokenCount(ctx context.Context) (int, error) {
	defer s.op("TokenCount", time.Now())
	n, err := s.d.Read().TokenCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

// TokenTouch records the token's last use.
func (s *Store) TokenTouch(ctx context.Context, hash string, at time.Time) error {
	defer s.op("TokenTouch", time.Now())
	at = at.UTC().Truncate(time.Microsecond)
	if err := s.d.Write(ctx, func(q Queries) error { return q.TokenTouch(ctx, hash, at) }); err != nil {
		return fmt.Errorf("record token use: %w", err)
	}
	return nil
}

// SettingClaim stores value under name unless one is stored, and returns
// the stored one; the insert and the read are one transaction.
func (s *Store) SettingClaim(ctx context.Context, name, value string) (string, error) {
	defer s.op("SettingClaim", time.Now())
	var got string
	err := s.d.Write(ctx, func(q Queries) (err error) {
		if err := q.SettingClaim(ctx, name, value); err != nil {
			return err
		}
		got, err = q.SettingGet(ctx, name)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("setting %s: %w", name, err)
	}
	return got, nil
}
