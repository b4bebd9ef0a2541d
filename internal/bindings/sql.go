package bindings

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// engine is one database's connection pool.
type engine interface {
	// conn waits, up to ctx's deadline, for a connection of the pool.
	conn(ctx context.Context) (engineConn, error)
	close() error
}

// engineConn is one connection taken from a pool. Failures the database
// reports come back as *wire.SQLError (see sqlError); other errors are
// the platform's.
type engineConn interface {
	// run runs a statement; rows says whether to return its rows
	// (wire.SQLQuery) or only what it changed (wire.SQLExec).
	run(ctx context.Context, sql string, args []any, rows bool, lim limits) (*wire.SQLResponse, error)
	begin(ctx context.Context) error
	commit(ctx context.Context) error
	rollback(ctx context.Context) error
	// release returns the connection to its pool, first rolling back any
	// transaction left open on it. Called exactly once.
	release()
}

type limits struct {
	rows  int
	bytes int
}

// database is a cached, opened database. ready is closed once eng or err
// is set, so concurrent first uses open it once.
type database struct {
	cfg      record.DatabaseConfig
	ready    chan struct{}
	eng      engine
	err      error
	openedAt time.Time // for Refresh: secrets set later are newer than its URL
}

// openTx is a transaction a guest began: pinned to one connection and to
// the invocation that began it.
type openTx struct {
	id         string
	invocation string
	database   string
	mu         sync.Mutex // one statement at a time on the connection
	conn       engineConn // nil once ended
	// reaper rolls the transaction back if the invocation's deadline
	// passes by txGrace without EndInvocation: a safety net, so a missed
	// EndInvocation cannot hold a connection (and SQLite's write lock)
	// forever.
	reaper *time.Timer
}

// defaultTxGrace is how long after its invocation's deadline a
// transaction may stay open.
const defaultTxGrace = 5 * time.Second

var databaseName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// db returns the opened database, loading its configuration from the
// store on first use (and again after a failed open).
func (b *Bindings) db(ctx context.Context, name string) (*database, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("database %s: bindings closed", name)
	}
	d, ok := b.dbs[name]
	if !ok {
		d = &database{ready: make(chan struct{}), openedAt: time.Now()}
		b.dbs[name] = d
		b.mu.Unlock()
		d.eng, d.cfg, d.err = b.openDatabase(ctx, name)
		if d.err != nil {
			b.mu.Lock()
			delete(b.dbs, name)
			b.mu.Unlock()
		}
		close(d.ready)
	} else {
		b.mu.Unlock()
	}
	select {
	case <-d.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("open database %s: %w", name, ctx.Err())
	}
	if d.err != nil {
		return nil, d.err
	}
	return d, nil
}

func (b *Bindings) openDatabase(ctx context.Context, name string) (engine, record.DatabaseConfig, error) {
	cfg, err := b.cfg.Store.DatabaseGet(ctx, name)
	if err != nil {
		return nil, record.DatabaseConfig{}, fmt.Errorf("open database %s: %w", name, err)
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	var eng engine
	switch cfg.Engine {
	case record.EngineSQLite, "":
		eng, err = b.openSQLite(ctx, *cfg)
	case record.EnginePostgres:
		eng, err = b.openPostgres(ctx, *cfg)
	default:
		err = fmt.Errorf("unknown engine %q", cfg.Engine)
	}
	if err != nil {
		return nil, record.DatabaseConfig{}, fmt.Errorf("open database %s: %w", name, err)
	}
	b.log.Debug("database opened", "database", name, "engine", cfg.Engine, "max_connections", cfg.MaxConnections)
	return eng, *cfg, nil
}

// acquire takes a connection of d, turning a deadline reached while
// waiting into ErrTimeout.
func acquire(ctx context.Context, d *database) (engineConn, error) {
	c, err := d.eng.conn(ctx)
	if err == nil {
		return c, nil
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("database %s: no connection free before the deadline (all %d in use; raise max_connections or shorten transactions): %w: %w",
			d.cfg.Name, d.cfg.MaxConnections, ErrTimeout, err)
	}
	return nil, fmt.Errorf("database %s: connect: %w", d.cfg.Name, err)
}

func (b *Bindings) limits() limits {
	return limits{rows: b.cfg.MaxRows, bytes: b.cfg.MaxResultBytes}
}

// SQL serves every SQL host call of a guest. Errors the database reports
// are in the response's Error; a Go error is the platform refusing or
// failing (see the package doc).
func (b *Bindings) SQL(ctx context.Context, req wire.SQLRequest) (*wire.SQLResponse, error) {
	c, err := callerFrom(ctx, "sql "+req.Binding)
	if err != nil {
		return nil, err
	}
	bd, err := c.binding(req.Binding, record.BindingSQL)
	if err != nil {
		return nil, err
	}
	if !c.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
		defer cancel()
	}
	args, err := goArgs(req.Args)
	if err != nil {
		return nil, fmt.Errorf("sql %s: %w", req.Binding, err)
	}
	switch req.Op {
	case wire.SQLQuery, wire.SQLExec:
		if req.Tx != "" {
			return b.inTx(ctx, c, bd, req.Tx, func(ec engineConn) (*wire.SQLResponse, error) {
				return ec.run(ctx, req.SQL, args, req.Op == wire.SQLQuery, b.limits())
			})
		}
		d, err := b.db(ctx, bd.Resource)
		if err != nil {
			return nil, err
		}
		ec, err := acquire(ctx, d)
		if err != nil {
			return nil, err
		}
		defer ec.release()
		return respond(ec.run(ctx, req.SQL, args, req.Op == wire.SQLQuery, b.limits()))
	case wire.SQLBegin:
		return b.begin(ctx, c, bd)
	case wire.SQLCommit, wire.SQLRollback:
		if req.Tx == "" {
			return nil, fmt.Errorf("sql %s: %s without a transaction id: %w", req.Binding, req.Op, ErrBadRequest)
		}
		return b.endTx(ctx, c, bd, req.Tx, req.Op == wire.SQLCommit)
	}
	return nil, fmt.Errorf("sql %s: unknown op %q: %w", req.Binding, req.Op, ErrBadRequest)
}

// respond moves a database's error into the response.
func respond(resp *wire.SQLResponse, err error) (*wire.SQLResponse, error) {
	if err == nil {
		return resp, nil
	}
	if se := sqlError(err); se != nil {
		return &wire.SQLResponse{Error: se}, nil
	}
	return nil, err
}

func (b *Bindings) begin(ctx context.Context, c Caller, bd record.Binding) (*wire.SQLResponse, error) {
	if c.InvocationID == "" {
		return nil, fmt.Errorf("sql %s: begin: function %s has no invocation id to tie the transaction to: %w", bd.Name, c, ErrBadRequest)
	}
	d, err := b.db(ctx, bd.Resource)
	if err != nil {
		return nil, err
	}
	ec, err := acquire(ctx, d)
	if err != nil {
		return nil, err
	}
	if err := ec.begin(ctx); err != nil {
		ec.release()
		return respond(nil, err)
	}
	var raw [16]byte
	rand.Read(raw[:])
	tx := &openTx{id: "tx_" + hex.EncodeToString(raw[:]), invocation: c.InvocationID, database: bd.Resource, conn: ec}
	if !c.Deadline.IsZero() {
		tx.reaper = time.AfterFunc(time.Until(c.Deadline)+b.txGrace, func() { b.abandon(tx, "its invocation's deadline passed") })
	}
	b.txMu.Lock()
	b.txs[tx.id] = tx
	b.byInv[c.InvocationID] = append(b.byInv[c.InvocationID], tx.id)
	b.txMu.Unlock()
	return &wire.SQLResponse{Tx: tx.id}, nil
}

// lookupTx finds a transaction of this invocation on this binding's
// database.
func (b *Bindings) lookupTx(c Caller, bd record.Binding, id string) (*openTx, error) {
	b.txMu.Lock()
	tx := b.txs[id]
	b.txMu.Unlock()
	if tx == nil || tx.invocation != c.InvocationID {
		return nil, fmt.Errorf("sql %s: no open transaction %s in invocation %s (ended, or begun by another invocation): %w", bd.Name, id, c.InvocationID, ErrBadRequest)
	}
	if tx.database != bd.Resource {
		return nil, fmt.Errorf("sql %s: transaction %s belongs to database %s, not %s: %w", bd.Name, id, tx.database, bd.Resource, ErrBadRequest)
	}
	return tx, nil
}

func (b *Bindings) inTx(ctx context.Context, c Caller, bd record.Binding, id string, f func(engineConn) (*wire.SQLResponse, error)) (*wire.SQLResponse, error) {
	tx, err := b.lookupTx(c, bd, id)
	if err != nil {
		return nil, err
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.conn == nil {
		return nil, fmt.Errorf("sql %s: transaction %s has ended: %w", bd.Name, id, ErrBadRequest)
	}
	return respond(f(tx.conn))
}

func (b *Bindings) endTx(ctx context.Context, c Caller, bd record.Binding, id string, commit bool) (*wire.SQLResponse, error) {
	tx, err := b.lookupTx(c, bd, id)
	if err != nil {
		return nil, err
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.conn == nil {
		return nil, fmt.Errorf("sql %s: transaction %s has ended: %w", bd.Name, id, ErrBadRequest)
	}
	if commit {
		err = tx.conn.commit(ctx)
	} else {
		err = tx.conn.rollback(ctx)
	}
	// Either way the transaction is over: a failed COMMIT leaves nothing
	// to retry (release rolls back whatever the database kept open).
	tx.conn.release()
	tx.conn = nil
	if tx.reaper != nil {
		tx.reaper.Stop()
	}
	b.forgetTx(tx)
	return respond(&wire.SQLResponse{}, err)
}

func (b *Bindings) forgetTx(tx *openTx) {
	b.txMu.Lock()
	defer b.txMu.Unlock()
	delete(b.txs, tx.id)
	ids := b.byInv[tx.invocation]
	for i, id := range ids {
		if id == tx.id {
			ids = append(ids[:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(b.byInv, tx.invocation)
	} else {
		b.byInv[tx.invocation] = ids
	}
}

// EndInvocation rolls back every transaction the invocation left open and
// returns their connections. The invoker calls it when an invocation
// ends, however it ended.
func (b *Bindings) EndInvocation(invocationID string) {
	b.txMu.Lock()
	ids := b.byInv[invocationID]
	delete(b.byInv, invocationID)
	txs := make([]*openTx, 0, len(ids))
	for _, id := range ids {
		txs = append(txs, b.txs[id])
		delete(b.txs, id)
	}
	b.txMu.Unlock()
	for _, tx := range txs {
		b.rollbackLeftOpen(tx, "its invocation ended")
	}
}

// abandon rolls back one transaction whose invocation never ended.
func (b *Bindings) abandon(tx *openTx, why string) {
	b.forgetTx(tx)
	b.rollbackLeftOpen(tx, why)
}

func (b *Bindings) rollbackLeftOpen(tx *openTx, why string) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.reaper != nil {
		tx.reaper.Stop()
	}
	if tx.conn == nil {
		return
	}
	// A fresh context: the invocation's own may be what ended.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tx.conn.rollback(ctx); err != nil {
		b.log.Warn("roll back transaction left open", "tx", tx.id, "invocation", tx.invocation, "database", tx.database, "reason", why, "error", err)
	} else {
		b.log.Info("rolled back transaction left open", "tx", tx.id, "invocation", tx.invocation, "database", tx.database, "reason", why)
	}
	tx.conn.release()
	tx.conn = nil
}

// Query runs one statement on a database by name, outside any function
// (strata db shell). Database errors are in the response.
func (b *Bindings) Query(ctx context.Context, database, sql string, args []wire.SQLValue) (*wire.SQLResponse, error) {
	goargs, err := goArgs(args)
	if err != nil {
		return nil, fmt.Errorf("query database %s: %w", database, err)
	}
	d, err := b.db(ctx, database)
	if err != nil {
		return nil, err
	}
	ec, err := acquire(ctx, d)
	if err != nil {
		return nil, err
	}
	defer ec.release()
	return respond(ec.run(ctx, sql, goargs, true, b.limits()))
}

// goArgs converts wire values to the Go values both drivers bind.
func goArgs(vals []wire.SQLValue) ([]any, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := make([]any, len(vals))
	for i, v := range vals {
		x, err := v.Any()
		if err != nil {
			return nil, fmt.Errorf("argument $%d: %w: %w", i+1, err, ErrBadRequest)
		}
		out[i] = x
	}
	return out, nil
}

// resultSize tracks a result against the limits.
type resultSize struct {
	lim   limits
	rows  int
	bytes int
}

func (s *resultSize) add(row []wire.SQLValue) error {
	s.rows++
	for _, v := range row {
		s.bytes += 16 + len(v.Text) + len(v.Bytes)
	}
	if s.rows > s.lim.rows {
		return fmt.Errorf("result has more than %d rows; add a LIMIT or paginate: %w", s.lim.rows, ErrLimit)
	}
	if s.bytes > s.lim.bytes {
		return fmt.Errorf("result is larger than %d bytes after %d rows; add a LIMIT, select fewer columns or paginate: %w", s.lim.bytes, s.rows, ErrLimit)
	}
	return nil
}
