package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/stratahq/strata/sdk/go/internal/hostcall"
	"github.com/stratahq/strata/sdk/go/wire"
)

// ErrNoRows is returned by Row.Scan when the query returned no row.
var ErrNoRows = errors.New("db: no rows in result set")

// ErrTxDone is returned by any use of a transaction after Commit or
// Rollback.
var ErrTxDone = errors.New("db: transaction has already been committed or rolled back")

// Error is an error the database reported.
type Error struct {
	// Code is a PostgreSQL SQLSTATE ("23505") or a SQLite extended result
	// code name ("SQLITE_CONSTRAINT_UNIQUE").
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return "db: " + e.Message
	}
	return "db: " + e.Message + " (" + e.Code + ")"
}

// Result is what Exec reports.
type Result struct {
	RowsAffected int64
	// LastInsertID is SQLite's rowid of the last inserted row (0 on
	// PostgreSQL: use RETURNING).
	LastInsertID int64
}

// DB is a database binding. It holds no connection and is safe to keep in
// a package variable and to use from several goroutines.
type DB struct {
	binding string
}

// Open returns the database bound under name in the function's manifest.
// Nothing is checked until the first call.
func Open(binding string) *DB { return &DB{binding: binding} }

// Query runs a statement and returns its rows.
func (d *DB) Query(ctx context.Context, sql string, args ...any) (*Rows, error) {
	return d.query(ctx, "", sql, args)
}

// QueryRow runs a statement expected to return at most one row; errors are
// deferred to Row.Scan.
func (d *DB) QueryRow(ctx context.Context, sql string, args ...any) *Row {
	rows, err := d.query(ctx, "", sql, args)
	return &Row{rows: rows, err: err}
}

// Exec runs a statement that returns no rows.
func (d *DB) Exec(ctx context.Context, sql string, args ...any) (Result, error) {
	return d.exec(ctx, "", sql, args)
}

// Begin starts a transaction. Its statements run on one connection, which
// it holds (and, on SQLite, the database's write lock) until Commit or
// Rollback: keep it short.
func (d *DB) Begin(ctx context.Context) (*Tx, error) {
	resp, err := d.call(ctx, wire.SQLRequest{Op: wire.SQLBegin}, nil, "begin")
	if err != nil {
		return nil, err
	}
	if resp.Tx == "" {
		return nil, fmt.Errorf("db %s: begin: the host returned no transaction", d.binding)
	}
	return &Tx{db: d, id: resp.Tx}, nil
}

func (d *DB) query(ctx context.Context, tx, sql string, args []any) (*Rows, error) {
	resp, err := d.call(ctx, wire.SQLRequest{Op: wire.SQLQuery, Tx: tx, SQL: sql}, args, "query")
	if err != nil {
		return nil, err
	}
	return &Rows{cols: resp.Columns, rows: resp.Rows}, nil
}

func (d *DB) exec(ctx context.Context, tx, sql string, args []any) (Result, error) {
	resp, err := d.call(ctx, wire.SQLRequest{Op: wire.SQLExec, Tx: tx, SQL: sql}, args, "exec")
	if err != nil {
		return Result{}, err
	}
	return Result{RowsAffected: resp.RowsAffected, LastInsertID: resp.LastInsertID}, nil
}

// call sends one request. A database error becomes *Error; a refusal of
// the platform an error with the host's message.
func (d *DB) call(ctx context.Context, req wire.SQLRequest, args []any, what string) (*wire.SQLResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("db %s: %s: %w", d.binding, what, err)
	}
	req.Binding = d.binding
	if len(args) > 0 {
		req.Args = make([]wire.SQLValue, len(args))
		for n, a := range args {
			v, err := wire.ValueOf(a)
			if err != nil {
				return nil, fmt.Errorf("db %s: %s: argument $%d: %w", d.binding, what, n+1, err)
			}
			req.Args[n] = v
		}
	}
	// Hand-written JSON (wire.AppendSQLRequest, wire.ParseSQLResponse):
	// encoding/json's reflection costs more than the query in WebAssembly.
	var resp *wire.SQLResponse
	err := hostcall.CallEncode(hostcall.SQL,
		func(dst []byte) ([]byte, error) { return wire.AppendSQLRequest(dst, &req) },
		func(answer []byte) (err error) { resp, err = wire.ParseSQLResponse(answer); return err })
	if err != nil {
		return nil, fmt.Errorf("db %s: %s: %w", d.binding, what, err)
	}
	if resp.Error != nil {
		return nil, &Error{Code: resp.Error.Code, Message: resp.Error.Message}
	}
	return resp, nil
}

// Tx is a transaction. It is not for concurrent use.
type Tx struct {
	db   *DB
	id   string
	done bool
}

// Query runs a statement in the transaction and returns its rows.
func (t *Tx) Query(ctx context.Context, sql string, args ...any) (*Rows, error) {
	if t.done {
		return nil, ErrTxDone
	}
	return t.db.query(ctx, t.id, sql, args)
}

// QueryRow runs a statement in the transaction expected to return at most
// one row.
func (t *Tx) QueryRow(ctx context.Context, sql string, args ...any) *Row {
	if t.done {
		return &Row{err: ErrTxDone}
	}
	rows, err := t.db.query(ctx, t.id, sql, args)
	return &Row{rows: rows, err: err}
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, sql string, args ...any) (Result, error) {
	if t.done {
		return Result{}, ErrTxDone
	}
	return t.db.exec(ctx, t.id, sql, args)
}

// Commit commits the transaction. If it fails the transaction is rolled
// back; either way it is over.
func (t *Tx) Commit(ctx context.Context) error { return t.end(ctx, wire.SQLCommit) }

// Rollback rolls the transaction back.
func (t *Tx) Rollback(ctx context.Context) error { return t.end(ctx, wire.SQLRollback) }

func (t *Tx) end(ctx context.Context, op string) error {
	if t.done {
		return ErrTxDone
	}
	// Over whatever the answer: the host releases the connection on a
	// failed commit too.
	t.done = true
	_, err := t.db.call(ctx, wire.SQLRequest{Op: op, Tx: t.id}, nil, op)
	return err
}
