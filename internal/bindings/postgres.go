package bindings

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// postgresEngine is a pgxpool whose MaxConns is the database's
// MaxConnections: the pool, shared by every instance of every function
// bound to the database, never opens more.
type postgresEngine struct {
	name string
	pool *pgxpool.Pool
}

// pgCancelGrace is how long after a context ends pgx waits for the
// server to acknowledge the cancel request before it closes the
// connection: a call still returns at its deadline plus at most this.
const pgCancelGrace = 500 * time.Millisecond

var secretRef = regexp.MustCompile(`\$\{secret:([A-Za-z0-9_.-]+)\}`)

// resolveSecrets replaces ${secret:NAME} in a URL with the value of the
// project's secret NAME (the database's project: never another's).
func (b *Bindings) resolveSecrets(ctx context.Context, project, url string) (string, error) {
	var firstErr error
	out := secretRef.ReplaceAllStringFunc(url, func(ref string) string {
		name := secretRef.FindStringSubmatch(ref)[1]
		v, err := b.SecretGet(ctx, project, name)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("url references %w", err)
			}
			return ""
		}
		return string(v)
	})
	return out, firstErr
}

func (b *Bindings) openPostgres(ctx context.Context, cfg record.DatabaseConfig) (engine, error) {
	url, err := b.resolveSecrets(ctx, cfg.Project, cfg.URL)
	if err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn redacts the password in its parse errors.
		return nil, fmt.Errorf("parse url: %w", err)
	}
	pc.MaxConns = int32(cfg.MaxConnections)
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	// Name the connections so an operator sees Strata's in
	// pg_stat_activity (and tests can count them).
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "strata:" + cfg.Name
	}
	// A statement whose context ends (the invocation's deadline, or the
	// result cap reached mid-stream) is cancelled on the server at once,
	// so it stops working and sending; pgx's default only closes the
	// socket, leaving the server to run on until it next writes.
	pc.ConnConfig.BuildContextWatcherHandler = func(pg *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pg, DeadlineDelay: pgCancelGrace}
	}
	// No message from the server may be larger than a result: pgx reads
	// a whole row into memory before it is counted, so a row of
	// repeat('x', 1e9) would cost a gigabyte. A message over this fails
	// on its length header, before it is read.
	maxMsg := pgMaxMessage(b.cfg.MaxResultBytes)
	pc.ConnConfig.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		f := pgproto3.NewFrontend(r, w)
		f.SetMaxBodyLen(maxMsg)
		return f
	}
	var warnOnce sync.Once
	pc.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		// A binding grants its guests everything the URL's role may do;
		// a superuser may read server files and run programs there.
		if c.PgConn().ParameterStatus("is_superuser") == "on" {
			warnOnce.Do(func() {
				b.log.Warn("postgres binding connects as a superuser: its functions can read server files and run programs on the database host; give it a role limited to its own schema",
					"database", cfg.Name, "user", pc.ConnConfig.User)
			})
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	return &postgresEngine{name: cfg.Name, pool: pool}, nil
}

// pgMaxMessage is the largest protocol message read from the server for
// a result cap: the cap plus room for the row's framing, and at least
// 1 MiB so errors and notices always fit.
func pgMaxMessage(maxResult int) int {
	return max(maxResult, 1<<20) + 64<<10
}

func (e *postgresEngine) close() error { e.pool.Close(); return nil }

func (e *postgresEngine) conn(ctx context.Context) (engineConn, error) {
	c, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &postgresConn{e: e, c: c}, nil
}

type postgresConn struct {
	e *postgresEngine
	c *pgxpool.Conn
}

func (c *postgresConn) run(ctx context.Context, query string, args []any, rows bool, lim limits) (*wire.SQLResponse, error) {
	resp, err := c.runStreaming(ctx, query, args, rows, lim)
	if err == nil {
		return resp, nil
	}
	var big *pgproto3.ExceededMaxBodyLenErr
	switch {
	case errors.Is(err, ErrLimit):
	case errors.As(err, &big):
		// pgx closed the connection: the rest of the message is unread.
		return nil, fmt.Errorf("database %s: a row of the result is %d bytes, more than the %d a result may have; select fewer or shorter columns: %w",
			c.e.name, big.ActualBodyLen, lim.bytes, ErrLimit)
	case ctx.Err() != nil:
		// The server reports the cancel as 57014, which is not the
		// guest's error to handle: the platform stopped the statement.
		return nil, fmt.Errorf("database %s: statement stopped at the invocation's deadline (make it cheaper, add a LIMIT or raise the function's timeout): %w: %w",
			c.e.name, ErrTimeout, context.Cause(ctx))
	}
	return nil, err
}

// runStreaming runs a statement, reading rows as they arrive and counting
// each against the limits; at the first row over them the statement is
// cancelled on the server rather than its rest read and thrown away.
func (c *postgresConn) runStreaming(ctx context.Context, query string, args []any, rows bool, lim limits) (*wire.SQLResponse, error) {
	if !rows {
		tag, err := c.c.Exec(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return &wire.SQLResponse{RowsAffected: tag.RowsAffected()}, nil
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r, err := c.c.Query(qctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fds := r.FieldDescriptions()
	resp := &wire.SQLResponse{Columns: make([]wire.SQLColumn, len(fds))}
	tm := c.c.Conn().TypeMap()
	for i, fd := range fds {
		typ := ""
		if t, ok := tm.TypeForOID(fd.DataTypeOID); ok {
			typ = t.Name
		}
		resp.Columns[i] = wire.SQLColumn{Name: fd.Name, Type: typ}
	}
	size := resultSize{lim: lim}
	for r.Next() {
		vals, err := r.Values()
		if err != nil {
			return nil, err
		}
		row := make([]wire.SQLValue, len(vals))
		for i, v := range vals {
			row[i] = pgValue(v)
		}
		if err := size.add(row); err != nil {
			// Cancel before the deferred Close, which would otherwise
			// read every remaining row.
			cancel()
			return nil, fmt.Errorf("database %s: %w", c.e.name, err)
		}
		resp.Rows = append(resp.Rows, row)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	resp.RowsAffected = r.CommandTag().RowsAffected()
	return resp, nil
}

// pgValue converts what pgx decoded. Types without a wire counterpart
// (numeric, uuid, intervals, arrays, JSON) become text a guest can parse.
func pgValue(v any) wire.SQLValue {
	if w, err := wireValue(v); err == nil {
		return w
	}
	switch x := v.(type) {
	case [16]byte: // uuid
		return wire.Text(fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]))
	case driver.Valuer:
		if dv, err := x.Value(); err == nil {
			if w, err := wireValue(dv); err == nil {
				return w
			}
		}
	case fmt.Stringer:
		return wire.Text(x.String())
	}
	if data, err := json.Marshal(v); err == nil {
		return wire.Text(string(data))
	}
	return wire.Text(fmt.Sprint(v))
}

func (c *postgresConn) begin(ctx context.Context) error {
	_, err := c.c.Exec(ctx, "BEGIN")
	return err
}

func (c *postgresConn) commit(ctx context.Context) error {
	_, err := c.c.Exec(ctx, "COMMIT")
	if err == nil && c.c.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	if err == nil {
		// COMMIT of a failed transaction succeeds as a ROLLBACK; say so.
		return &wire.SQLError{Code: "25P02", Message: "transaction was aborted by an earlier error and has been rolled back"}
	}
	return err
}

func (c *postgresConn) rollback(ctx context.Context) error {
	_, err := c.c.Exec(ctx, "ROLLBACK")
	return err
}

func (c *postgresConn) release() {
	if c.c.Conn().PgConn().TxStatus() != 'I' {
		// Left in a transaction (by the guest's own BEGIN, or a failed
		// end): roll back so the connection can be reused. If that fails
		// pgxpool destroys a connection released outside idle state.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c.c.Exec(ctx, "ROLLBACK")
		cancel()
	}
	c.c.Release()
}

// sqlError returns the database's own error inside err, or nil when err
// is the platform's.
func sqlError(err error) *wire.SQLError {
	var we *wire.SQLError
	if errors.As(err, &we) {
		return we
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg := pe.Message
		if pe.Detail != "" {
			msg += ": " + pe.Detail
		}
		if pe.Position > 0 {
			msg += fmt.Sprintf(" (at character %d)", pe.Position)
		}
		return &wire.SQLError{Code: pe.Code, Message: msg}
	}
	if errors.Is(err, ErrLimit) {
		return nil
	}
	// pgx checks argument counts before anything reaches the server;
	// report them as the server would (protocol_violation).
	if msg := err.Error(); strings.Contains(msg, "mismatched param and argument count") ||
		strings.HasPrefix(msg, "expected ") && strings.Contains(msg, " arguments, got ") {
		return &wire.SQLError{Code: "08P01", Message: msg}
	}
	return sqliteError(err)
}
