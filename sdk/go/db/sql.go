package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"

	"github.com/stratahq/strata/sdk/go/wire"
)

// OpenSQL returns the database bound under name as a *sql.DB, through a
// database/sql driver: code written for database/sql (sqlc's generated
// queries, sqlx, migration tools that take a *sql.DB) runs unchanged
// inside a function. As with Open, nothing is checked until the first
// call.
//
// Placeholders are the database's ($1, $2, …; SQLite also takes ?); named
// arguments (sql.Named) are refused. database/sql converts arguments to
// its driver values (int64, float64, bool, []byte, string, time.Time,
// nil) before they reach the host. On SQLite, a text value in a column
// declared DATE, DATETIME or TIMESTAMP is read back as a time.Time, so it
// scans into a *time.Time as it does with the common SQLite drivers.
// Transactions hold one host connection from BeginTx to Commit or
// Rollback; isolation levels other than the default and read-only
// transactions are refused. A transaction left open is rolled back when
// the invocation ends.
//
// The *sql.DB is safe to keep in a package variable. Its pool holds no
// host connection between calls, so its settings (SetMaxOpenConns, …)
// change nothing but how many transactions may be open at once.
func OpenSQL(binding string) *sql.DB { return sql.OpenDB(connector{Open(binding)}) }

// connector opens connections to one binding; a connection is only the
// binding's name and the transaction it has open, if any.
type connector struct{ db *DB }

func (c connector) Connect(context.Context) (driver.Conn, error) { return &conn{db: c.db}, nil }
func (c connector) Driver() driver.Driver                        { return sqlDriver{} }

// sqlDriver is the connector's Driver, for database/sql's Driver method:
// its name is the binding.
type sqlDriver struct{}

func (sqlDriver) Open(binding string) (driver.Conn, error) { return &conn{db: Open(binding)}, nil }

// conn is one database/sql connection. database/sql uses it from one
// goroutine at a time.
type conn struct {
	db *DB
	tx *Tx // the open transaction, nil outside one
}

var (
	_ driver.Conn               = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
	_ driver.Pinger             = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares nothing on the host (every call sends its
// statement): the statement is kept and run at Exec or Query.
func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &stmt{c: c, query: query}, nil
}

func (c *conn) Close() error { return nil }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.Isolation != driver.IsolationLevel(sql.LevelDefault) {
		return nil, fmt.Errorf("db %s: isolation level %s is not supported: transactions run at the database's default", c.db.binding, sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		return nil, fmt.Errorf("db %s: read-only transactions are not supported", c.db.binding)
	}
	if c.tx != nil {
		return nil, fmt.Errorf("db %s: a transaction is already open on this connection", c.db.binding)
	}
	t, err := c.db.Begin(ctx)
	if err != nil {
		return nil, err
	}
	c.tx = t
	return &sqlTx{c: c, ctx: ctx}, nil
}

func (c *conn) Ping(ctx context.Context) error {
	_, err := c.query(ctx, "SELECT 1", nil)
	return err
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	a, err := values(args)
	if err != nil {
		return nil, err
	}
	var res Result
	if c.tx != nil {
		res, err = c.tx.Exec(ctx, query, a...)
	} else {
		res, err = c.db.Exec(ctx, query, a...)
	}
	if err != nil {
		return nil, err
	}
	return sqlResult{res}, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	a, err := values(args)
	if err != nil {
		return nil, err
	}
	return c.query(ctx, query, a)
}

func (c *conn) query(ctx context.Context, query string, args []any) (driver.Rows, error) {
	var rows *Rows
	var err error
	if c.tx != nil {
		rows, err = c.tx.Query(ctx, query, args...)
	} else {
		rows, err = c.db.Query(ctx, query, args...)
	}
	if err != nil {
		return nil, err
	}
	return &sqlRows{r: rows}, nil
}

// values turns database/sql's arguments into the package's; they are
// already driver values (database/sql converted them). A nil []byte is
// NULL.
func values(args []driver.NamedValue) ([]any, error) {
	out := make([]any, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, fmt.Errorf("db: named argument %q: use positional placeholders ($1, $2, …)", a.Name)
		}
		if b, ok := a.Value.([]byte); ok && b == nil {
			// A nil []byte is NULL to database/sql drivers (a
			// Data []byte field left unset), not an empty blob.
			out[i] = nil
			continue
		}
		out[i] = a.Value
	}
	return out, nil
}

// stmt is a prepared statement: its text, run at each Exec or Query.
type stmt struct {
	c     *conn
	query string
}

var (
	_ driver.StmtExecContext  = (*stmt)(nil)
	_ driver.StmtQueryContext = (*stmt)(nil)
)

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 } // unknown: the database checks

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	return s.c.ExecContext(ctx, s.query, args)
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	return s.c.QueryContext(ctx, s.query, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// sqlTx ends the connection's transaction. ctx is BeginTx's: database/sql
// gives Commit and Rollback none.
type sqlTx struct {
	c   *conn
	ctx context.Context
}

func (t *sqlTx) Commit() error   { return t.end((*Tx).Commit) }
func (t *sqlTx) Rollback() error { return t.end((*Tx).Rollback) }

func (t *sqlTx) end(op func(*Tx, context.Context) error) error {
	tx := t.c.tx
	if tx == nil {
		return ErrTxDone
	}
	t.c.tx = nil
	// The transaction's context may be done (database/sql rolls back when
	// it is): the end must still reach the host.
	return op(tx, context.WithoutCancel(t.ctx))
}

type sqlResult struct{ r Result }

func (r sqlResult) LastInsertId() (int64, error) { return r.r.LastInsertID, nil }
func (r sqlResult) RowsAffected() (int64, error) { return r.r.RowsAffected, nil }

// sqlRows iterates a result, whole in memory already.
type sqlRows struct{ r *Rows }

var (
	_ driver.RowsColumnTypeDatabaseTypeName = (*sqlRows)(nil)
)

func (r *sqlRows) Columns() []string { return r.r.Columns() }
func (r *sqlRows) Close() error      { return r.r.Close() }

func (r *sqlRows) ColumnTypeDatabaseTypeName(i int) string {
	return strings.ToUpper(r.r.cols[i].Type)
}

func (r *sqlRows) Next(dest []driver.Value) error {
	if !r.r.Next() {
		return io.EOF
	}
	row, err := r.r.current()
	if err != nil {
		return err
	}
	if len(dest) != len(row) {
		return fmt.Errorf("db: %d columns, %d values", len(dest), len(row))
	}
	for i, v := range row {
		x, err := v.Any()
		if err != nil {
			return r.r.colErr(i, err)
		}
		if s, ok := x.(string); ok && v.Type == wire.TypeText && isTimeType(r.r.cols[i].Type) {
			// SQLite keeps times as text; a column declared as a time
			// reads back as one, as SQLite drivers do.
			if t, err := parseTime(s); err == nil {
				x = t
			}
		}
		dest[i] = x
	}
	return nil
}

// isTimeType reports a declared column type that holds times.
func isTimeType(typ string) bool {
	switch strings.ToUpper(typ) {
	case "DATE", "DATETIME", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE":
		return true
	}
	return false
}
