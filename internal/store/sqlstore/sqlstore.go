package sqlstore

import (
	"context"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Driver is what a backend implements: how to run a write transaction, a
// handle for reads, and how to classify its errors. Operations whose shape
// truly differs per dialect (claims with SKIP LOCKED against a single
// writer, group commit) are methods of the area interfaces, not rules here.
type Driver interface {
	// InTx runs fn in one write transaction, committing when it returns
	// nil and rolling back otherwise. The Queries must not escape fn.
	InTx(ctx context.Context, fn func(q Queries) error) error
	// Write runs fn, which makes one write (one statement, or one batch
	// the backend runs atomically), the cheapest safe way: SQLite in its
	// own IMMEDIATE transaction on the single writer (a bare statement
	// could fail with SQLITE_BUSY against another process instead of
	// waiting); PostgreSQL autocommitted on the pool, saving the
	// BEGIN/COMMIT round trips. Use InTx when several statements must
	// land together.
	Write(ctx context.Context, fn func(q Queries) error) error
	// Read returns queries on the read handle: each statement sees the
	// latest commit, with no transaction around several.
	Read() Queries
	// IsUnique reports a UNIQUE or PRIMARY KEY violation.
	IsUnique(err error) bool
	// IsForeignKey reports a FOREIGN KEY violation.
	IsForeignKey(err error) bool
}

// Queries is every area's statements on one handle (a transaction or the
// read handle). Each area declares its part in its own file, next to the
// rules that use it.
//
// Conventions for implementations: a query expecting one row returns
// store.ErrNotFound, bare, when there is none (the rules add what was looked
// up); times go in and come out as time.Time in UTC, however the backend
// stores them; methods take and return record types, never generated rows;
// the keep list of a DeleteUnlisted method is never nil (the rules pass an
// empty one), so PostgreSQL binds an empty array, not NULL.
type Queries interface {
	DeployQueries
	RecordQueries
	EventQueries
	BindingQueries
	FlowQueries
	TraceQueries
	ObjectQueries
	StateMachineQueries
	NodeQueries
}

// Store implements the store operations once, over a Driver. Backends embed
// it and add what is theirs (Close, test hooks).
type Store struct {
	d   Driver
	now func() time.Time
	// obs, when set, hears of every operation (ObserveOperations).
	obs atomic.Pointer[func(op string, d time.Duration)]
}

// New returns a Store over d, reading the wall clock.
func New(d Driver) *Store { return &Store{d: d, now: time.Now} }

// ObserveOperations makes every operation of the store report its name
// (the method's: "LogInsert", "FlowCommitBatch") and how long it took to
// fn, the node's metrics; fn runs on the caller's goroutine and must not
// block. It may be called while the store is in use.
func (s *Store) ObserveOperations(fn func(op string, d time.Duration)) { s.obs.Store(&fn) }

// op reports the operation name that began at start to the observer, if
// any; every exported method defers it first thing. Without an observer
// it costs a clock read.
func (s *Store) op(name string, start time.Time) {
	if fn := s.obs.Load(); fn != nil {
		(*fn)(name, time.Since(start))
	}
}

// SetNow replaces the clock the store reads for "now" (message visibility,
// dedup windows, created times). For tests; call it before using the store.
func (s *Store) SetNow(now func() time.Time) { s.now = now }

// nowUTC is the current time as every backend can store it: UTC, to the
// microsecond (SQLite keeps integer microseconds, PostgreSQL timestamptz).
func (s *Store) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// CleanText replaces NUL and invalid UTF-8 in guest-provided text:
// PostgreSQL's text type holds neither, one bad byte must not lose a batch,
// and both backends must return the same line.
func CleanText(s string) string {
	if !strings.ContainsRune(s, 0) && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Rows converts generated rows to records, keeping "nothing" a nil slice on
// both backends.
func Rows[R, T any](rows []R, conv func(R) T) []T {
	if len(rows) == 0 {
		return nil
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = conv(r)
	}
	return out
}

// RowsErr is Rows for a conversion that can fail.
func RowsErr[R, T any](rows []R, conv func(R) (T, error)) ([]T, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		var err error
		if out[i], err = conv(r); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// One converts the generated row of a one-row query to a record, passing
// err (already mapped to store.ErrNotFound by the backend) through.
func One[R, T any](r R, err error, conv func(R) T) (*T, error) {
	if err != nil {
		return nil, err
	}
	t := conv(r)
	return &t, nil
}

// OneErr is One for a conversion that can fail.
func OneErr[R, T any](r R, err error, conv func(R) (T, error)) (*T, error) {
	if err != nil {
		return nil, err
	}
	t, err := conv(r)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
