package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/postgres/internal/pgdb"
	"github.com/stratahq/strata/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is store.Store on PostgreSQL: the rules of sqlstore over this
// package's driver.
type Store struct {
	*sqlstore.Store
	pool   *pgxpool.Pool
	schema string // where the tables live; part of every advisory lock key
}

var _ store.Store = (*Store)(nil)

// schemaName is what OpenWithSchema accepts: a plain lower-case identifier,
// so it never needs quoting in search_path or in DDL.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to the database at url (a postgres:// URL or key=value
// string, with pgxpool's pool_* options) and migrates the schema the
// connection's search_path resolves to, normally public.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	return OpenWithSchema(ctx, url, "", opts...)
}

// Option adjusts how the store connects.
type Option func(*options)

type options struct{ idleInTx time.Duration }

// DefaultIdleInTransactionTimeout is the store connections'
// idle_in_transaction_session_timeout unless the URL or an Option sets
// one.
const DefaultIdleInTransactionTimeout = 5 * time.Second

// WithIdleInTransactionTimeout sets how long PostgreSQL lets one of the
// store's connections sit idle inside a transaction before it ends the
// session. A node that stalls mid-transaction (SIGSTOP, a frozen VM, a
// partition) otherwise holds its row locks until it wakes, and every
// other node's release of its leases, claim or commit on those rows waits
// behind them. Strata's own transactions never wait on anything but the
// database between statements, so a bound below the node lease is safe
// and lets failover happen within it. A URL that sets
// idle_in_transaction_session_timeout itself wins.
func WithIdleInTransactionTimeout(d time.Duration) Option {
	return func(o *options) { o.idleInTx = d }
}

// OpenWithSchema is Open with every table kept in schema, which is created if
// missing and set as the connections' search_path. An empty schema means the
// default, as Open.
func OpenWithSchema(ctx context.Context, url, schema string, opts ...Option) (*Store, error) {
	o := options{idleInTx: DefaultIdleInTransactionTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if schema != "" && !schemaName.MatchString(schema) {
		return nil, fmt.Errorf("open postgres store: schema %q: want lower-case letters, digits and '_'", schema)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn redacts the password in its parse errors.
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "strata"
	}
	if _, set := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !set && o.idleInTx > 0 {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(o.idleInTx.Milliseconds(), 10)
	}
	where := cfg.ConnConfig.Host + ":" + strconv.Itoa(int(cfg.ConnConfig.Port)) + "/" + cfg.ConnConfig.Database
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres store %s: %w", where, err)
	}
	s := &Store{pool: pool, schema: schema}
	s.Store = sqlstore.New(driver{s: s, read: queries{Queries: pgdb.New(pool), db: pool, s: s}})
	if s.schema == "" {
		var cur *string
		if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open postgres store %s: %w", where, err)
		}
		if cur == nil {
			pool.Close()
			return nil, fmt.Errorf("open postgres store %s: search_path names no existing schema", where)
		}
		s.schema = *cur
	}
	if err := s.migrate(ctx, schema != ""); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store %s schema %s: %w", where, s.schema, err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Schema reports the schema the store's tables live in.
func (s *Store) Schema() string { return s.schema }

// lockKey derives an advisory lock key private to this schema and purpose.
func (s *Store) lockKey(purpose string) int64 {
	h := fnv.New64a()
	h.Write([]byte("strata\x00" + s.schema + "\x00" + purpose))
	return int64(h.Sum64())
}

func loadMigrations() ([]sqlstore.Migration, error) { return sqlstore.LoadMigrations(migrationFS) }

// migrate applies the embedded migrations (sqlstore.Migrate) holding a
// session advisory lock throughout, so nodes starting together take turns:
// the first applies, the others find the work recorded.
func (s *Store) migrate(ctx context.Context, createSchema bool) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := s.lockKey("migrate")
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// Unlock even if ctx is done; a connection that cannot unlock
		// must not go back to the pool still holding the lock.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()

	if createSchema {
		// Under the lock: concurrent CREATE SCHEMA IF NOT EXISTS can fail.
		if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+s.schema); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	return s.Migrate(ctx, migrationFS, func(ctx context.Context, fn func(sqlstore.MigrationTx) error) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return fn(migrationTx{tx}) })
	})
}

// migrationTx is a transaction of sqlstore.Migrate on the connection that
// holds the migration lock.
type migrationTx struct{ tx pgx.Tx }

func (m migrationTx) Setup(ctx context.Context) error {
	_, err := m.tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`)
	return err
}

func (m migrationTx) Applied(ctx context.Context, version int) (bool, error) {
	var n int
	err := m.tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n)
	return n > 0, err
}

func (m migrationTx) Newest(ctx context.Context) (int, string, error) {
	var v int
	var name string
	err := m.tx.QueryRow(ctx, `SELECT version, name FROM schema_migrations ORDER BY version DESC LIMIT 1`).Scan(&v, &name)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", nil
	}
	return v, name, err
}

func (m migrationTx) Apply(ctx context.Context, mg sqlstore.Migration, at time.Time) error {
	// No arguments: pgx sends it with the simple protocol, which accepts a
	// file of several statements.
	if _, err := m.tx.Exec(ctx, mg.SQL); err != nil {
		return err
	}
	_, err := m.tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		mg.Version, mg.Name, at)
	return err
}

// driver is sqlstore.Driver on the pool. It points back at the Store for
// the schema, which advisory lock keys include.
type driver struct {
	s    *Store
	read sqlstore.Queries // built once: Read is on every read path
}

var _ sqlstore.Driver = driver{}

func (d driver) InTx(ctx context.Context, fn func(sqlstore.Queries) error) error {
	return pgx.BeginFunc(ctx, d.s.pool, func(tx pgx.Tx) error {
		return fn(queries{Queries: pgdb.New(tx), db: tx, s: d.s})
	})
}

// Write autocommits on the pool: one statement needs no BEGIN/COMMIT.
func (d driver) Write(ctx context.Context, fn func(sqlstore.Queries) error) error {
	return fn(d.Read())
}

func (d driver) Read() sqlstore.Queries { return d.read }

func (driver) IsUnique(err error) bool     { return isUnique(err) }
func (driver) IsForeignKey(err error) bool { return isForeignKey(err) }

// queries is sqlstore.Queries on one handle (a transaction or the pool): the
// generated statements embedded, db for the few written by hand. A generated
// method whose signature is already the area's serves as is; the area files
// (deploy.go, ...) hold the methods that convert.
type queries struct {
	*pgdb.Queries
	db pgdb.DBTX
	s  *Store
}

var _ sqlstore.Queries = queries{}

// notFound maps "no row" to the bare store.ErrNotFound the rules expect.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23503"
}

func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// param is the placeholder of a hand-written statement's nth parameter.
func param(n int) string { return "$" + strconv.Itoa(n) }

// utc normalises a time read from the database, which pgx returns in the
// local zone.
func utc(t time.Time) time.Time { return t.UTC() }

// nilIfEmpty keeps "nothing" as a nil slice on both backends.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}
