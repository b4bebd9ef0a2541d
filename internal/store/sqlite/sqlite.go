package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlite/internal/sqlitedb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is store.Store on a SQLite file: the rules of sqlstore over this
// package's driver.
type Store struct {
	*sqlstore.Store
	path string
	w    *sql.DB // exactly one connection: the single writer
	r    *sql.DB // read-only pool
	g    *groupWriter
}

var _ store.Store = (*Store)(nil)

// busyTimeoutMS bounds how long a statement waits for another process
// holding the write lock before failing with SQLITE_BUSY. SQLite's busy
// handler is not fair: under steady writes from another process (and slow
// syncs) a waiter can lose the lock many times in a row, so the bound is
// generous; a request waiting on it still has its own deadline.
const busyTimeoutMS = 30000

// Open opens (creating if needed, with its parent directory) the SQLite
// database at path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open sqlite store: empty path")
	}
	// The driver splits its DSN at the first '?', so a path holding one
	// would silently open another file.
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite store %q: path must not contain '?'", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open sqlite store %q: create directory: %w", path, err)
	}

	// synchronous(FULL): in WAL mode NORMAL may lose the last commits on
	// power loss, and a write the store acknowledged must survive.
	common := "_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	w, err := sql.Open("sqlite", path+"?"+common+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// Switch the file to WAL through the writer before any reader opens;
	// the mode is stored in the file, so later connections find it set.
	if err := setWAL(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %q: set WAL mode: %w", path, err)
	}

	r, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)

	g := &groupWriter{w: w, stmts: stmtCache{w: w}}
	stmts := &flowStmts{}
	s := &Store{Store: sqlstore.New(driver{w: w, r: r, g: g, read: queries{Queries: sqlitedb.New(r), db: r}, stmts: stmts}), path: path, w: w, r: r, g: g}
	if err := s.Migrate(ctx, migrationFS, s.migrationTx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	if err := stmts.prepare(ctx, w); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite store %q: %w", path, err)
	}
	return s, nil
}

// Close closes both handles.
func (s *Store) Close() error {
	s.g.stmts.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

func loadMigrations() ([]sqlstore.Migration, error) { return sqlstore.LoadMigrations(migrationFS) }

// migrationTx is a write transaction of sqlstore.Migrate. They begin
// IMMEDIATE, so two processes opening the same file at once take turns and
// the second finds the first's work recorded. Even creating
// schema_migrations runs in one: as an autocommit statement it could meet
// another process's fresh commit and fail with SQLITE_BUSY instead of
// waiting.
type migrationTx struct{ tx *sql.Tx }

func (s *Store) migrationTx(ctx context.Context, fn func(sqlstore.MigrationTx) error) error {
	return inTx(ctx, s.w, func(tx *sql.Tx) error { return fn(migrationTx{tx}) })
}

func (m migrationTx) Setup(ctx context.Context) error {
	_, err := m.tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`)
	return err
}

func (m migrationTx) Applied(ctx context.Context, version int) (bool, error) {
	var n int
	err := m.tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n)
	return n > 0, err
}

func (m migrationTx) Newest(ctx context.Context) (int, string, error) {
	var v int
	var name string
	err := m.tx.QueryRowContext(ctx, `SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1`).Scan(&v, &name)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return v, name, err
}

func (m migrationTx) Apply(ctx context.Context, mg sqlstore.Migration, at time.Time) error {
	if _, err := m.tx.ExecContext(ctx, mg.SQL); err != nil {
		return err
	}
	_, err := m.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		mg.Version, mg.Name, micros(at))
	return err
}

// setWAL sets journal_mode=WAL. SQLite answers SQLITE_BUSY at once, without
// consulting busy_timeout, when another connection is initialising the same
// new file, so this retries for as long as busy_timeout would have waited.
func setWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeoutMS * time.Millisecond)
	for {
		var mode string
		err := db.QueryRowContext(ctx, `PRAGMA journal_mode=WAL`).Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %q", mode)
			}
			return nil
		}
		var e *sqlite.Error
		if !errors.As(err, &e) || e.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// inTx runs fn in a write transaction on w, committing if it returns nil.
func inTx(ctx context.Context, w *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// micros is the stored form of a time: microseconds since the epoch, UTC by
// construction.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// driver is sqlstore.Driver on the two handles: write transactions on the
// single writer, reads on the read-only pool.
type driver struct {
	w, r  *sql.DB
	g     *groupWriter
	read  sqlstore.Queries // built once: Read is on every read path
	stmts *flowStmts       // the flow commit's statements, prepared on w (flow_stmts.go); InTx uses them, Write's groups have their own cache (group.go)
}

var _ sqlstore.Driver = driver{}

func (d driver) InTx(ctx context.Context, fn func(sqlstore.Queries) error) error {
	err := inTx(ctx, d.w, func(tx *sql.Tx) error { return fn(queries{Queries: sqlitedb.New(tx), db: tx, stmts: d.stmts}) })
	if err == nil {
		d.g.commits.Add(1)
		d.g.writes.Add(1)
	}
	return err
}

// Write shares transactions, and so commits, with concurrent Writes
// (groupWriter); InTx keeps a transaction of its own.
func (d driver) Write(ctx context.Context, fn func(sqlstore.Queries) error) error {
	return d.g.write(ctx, fn)
}

func (d driver) Read() sqlstore.Queries { return d.read }

func (driver) IsUnique(err error) bool     { return isUnique(err) }
func (driver) IsForeignKey(err error) bool { return isForeignKey(err) }

// queries is sqlstore.Queries on one handle (a write transaction or the read
// pool): the generated statements embedded, db for the few written by hand.
// A generated method whose signature is already the area's serves as is; the
// area files (deploy.go, ...) hold the methods that convert.
type queries struct {
	*sqlitedb.Queries
	db    sqlitedb.DBTX
	stmts *flowStmts // write transactions only: see queries.flow
}

var _ sqlstore.Queries = queries{}

// notFound maps "no row" to the bare store.ErrNotFound the rules expect.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// isForeignKey reports whether err is a FOREIGN KEY violation.
func isForeignKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// exec runs one write statement in its own IMMEDIATE transaction: as a bare
// autocommit statement it could fail with SQLITE_BUSY instead of waiting when
// another process shares the file.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := inTx(ctx, s.w, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	if err == nil {
		s.g.commits.Add(1)
		s.g.writes.Add(1)
	}
	return res, err
}

// WriterStats reports the transactions committed on the single writer since
// Open and the writes they carried (more writes than commits: writes shared
// commits). With synchronous=FULL in WAL mode each commit syncs the WAL once
// (checkpoints add syncs of their own); benchmarks divide by the messages
// moved to report commits per message.
func (s *Store) WriterStats() (commits, writes int64) {
	return s.g.commits.Load(), s.g.writes.Load()
}

// param is the placeholder of a hand-written statement's nth parameter: all
// positional, bound in order.
func param(int) string { return "?" }

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
