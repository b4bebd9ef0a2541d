package bindings

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// sqliteBusyMS bounds how long a statement waits on another process's
// write lock; writers in this process queue on wlock instead, which
// honours the caller's deadline. The driver's busy handler also gives up
// when the statement's context ends, so this never holds a guest past
// its deadline.
const sqliteBusyMS = 5000

// sqliteEngine is a SQLite file with a pool of connections. WAL lets
// readers run beside the one writer; wlock serialises writers here so they
// queue in Go (deadline-aware) rather than spin in busy handlers.
type sqliteEngine struct {
	name      string
	db        *sql.DB
	wlock     chan struct{} // capacity 1: held by a writer
	maxResult int           // SQLITE_LIMIT_LENGTH of every connection (see sqliteguard.go)
}

// SQLitePath is where the SQLite database of that name lives.
func SQLitePath(dataDir, name string) string {
	return filepath.Join(dataDir, "databases", name+".db")
}

func (b *Bindings) openSQLite(ctx context.Context, cfg record.DatabaseConfig) (engine, error) {
	// The name becomes a file name: no separators, no "..".
	if !databaseName.MatchString(cfg.Name) || strings.Contains(cfg.Name, "..") {
		return nil, fmt.Errorf("sqlite database name %q: use letters, digits, '_', '-' and '.'", cfg.Name)
	}
	path := SQLitePath(b.cfg.DataDir, cfg.Name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create directory: %w", err)
	}
	// synchronous(FULL): a commit the guest was told about survives power
	// loss, as the platform's own store promises.
	// A plain path, never a "file:" URI: SQLite then applies no URI
	// parameters (mode, vfs, immutable), and the name checked above is
	// the whole of it. _defensive turns on SQLITE_DBCONFIG_DEFENSIVE
	// before anything else runs on the connection.
	dsn := path + "?_defensive=1&_pragma=busy_timeout(" + strconv.Itoa(sqliteBusyMS) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=journal_mode(WAL)" +
		// Times are stored as SQLite's own text format (sortable, read by
		// SQLite's date functions) rather than Go's time.Time.String().
		"&_time_format=sqlite"
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := sql.OpenDB(sqliteConnector{base})
	db.SetMaxOpenConns(cfg.MaxConnections)
	db.SetMaxIdleConns(cfg.MaxConnections)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sqliteEngine{name: cfg.Name, db: db, wlock: make(chan struct{}, 1), maxResult: b.cfg.MaxResultBytes}, nil
}

func (e *sqliteEngine) close() error { return e.db.Close() }

func (e *sqliteEngine) conn(ctx context.Context) (engineConn, error) {
	c, err := e.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	sc := &sqliteConn{e: e, c: c}
	if err := guardConn(c, &sc.guard, e.maxResult); err != nil {
		// Never hand out a connection that is not confined.
		c.Raw(func(any) error { return driver.ErrBadConn })
		c.Close()
		return nil, fmt.Errorf("database %s: %w", e.name, err)
	}
	return sc, nil
}

type sqliteConn struct {
	e      *sqliteEngine
	c      *sql.Conn
	guard  sqliteGuard
	inTx   bool // holds wlock for a transaction begun through begin
	dirty  bool // ran a statement that may have opened a transaction itself
	broken bool
}

func (c *sqliteConn) lock(ctx context.Context) error {
	select {
	case c.e.wlock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("database %s: waiting for the write lock: %w: %w", c.e.name, ErrTimeout, ctx.Err())
	}
}

func (c *sqliteConn) unlock() { <-c.e.wlock }

func (c *sqliteConn) run(ctx context.Context, query string, args []any, rows bool, lim limits) (*wire.SQLResponse, error) {
	resp, err := c.runGuarded(ctx, query, args, rows, lim)
	if err != nil {
		err = c.explain(ctx, err)
	}
	return resp, err
}

// explain turns the bare errors of a refused or interrupted statement
// into ones that say why.
func (c *sqliteConn) explain(ctx context.Context, err error) error {
	// A denial fails the statement: at prepare ("not authorized"), or
	// when VACUUM attaches its copy (SQLITE_AUTH) as it runs.
	if why := c.guard.takeDenial(); why != "" {
		return fmt.Errorf("database %s: %s: %w", c.e.name, why, ErrNotPermitted)
	}
	if ctx.Err() != nil && !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("database %s: statement stopped at the invocation's deadline (make it cheaper, add a LIMIT or raise the function's timeout): %w: %w", c.e.name, ErrTimeout, context.Cause(ctx))
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_TOOBIG {
		return &wire.SQLError{Code: "SQLITE_TOOBIG", Message: fmt.Sprintf("%s: no string, blob or row of a function's database may exceed %d bytes, the result cap", se.Error(), c.e.maxResult)}
	}
	return err
}

func (c *sqliteConn) runGuarded(ctx context.Context, query string, args []any, rows bool, lim limits) (*wire.SQLResponse, error) {
	c.guard.takeDenial() // forget a denial of an earlier statement
	if n, named := sqliteParams(query); !named && n != len(args) {
		return nil, &wire.SQLError{Code: "SQLITE_RANGE", Message: fmt.Sprintf("statement takes %d arguments, got %d", n, len(args))}
	}
	if !c.inTx && !readOnly(query) {
		if err := c.lock(ctx); err != nil {
			return nil, err
		}
		defer c.unlock()
	}
	if mayControlTx(query) {
		c.dirty = true
	}
	if !rows {
		res, err := c.c.ExecContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		resp := &wire.SQLResponse{}
		resp.RowsAffected, _ = res.RowsAffected()
		resp.LastInsertID, _ = res.LastInsertId()
		return resp, nil
	}
	// The driver interrupts a statement at ctx's end only inside Exec
	// and Query, not in rows.Next; this covers the rows. Deferred before
	// the rows' Close, so it runs after it.
	defer c.guard.interruptAt(ctx)()
	r, err := c.c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cts, err := r.ColumnTypes()
	if err != nil {
		return nil, err
	}
	resp := &wire.SQLResponse{Columns: make([]wire.SQLColumn, len(cts))}
	for i, ct := range cts {
		resp.Columns[i] = wire.SQLColumn{Name: ct.Name(), Type: ct.DatabaseTypeName()}
	}
	vals := make([]any, len(cts))
	ptrs := make([]any, len(cts))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	size := resultSize{lim: lim}
	for r.Next() {
		if err := r.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]wire.SQLValue, len(vals))
		for i, v := range vals {
			if row[i], err = wireValue(v); err != nil {
				return nil, fmt.Errorf("column %s: %w", resp.Columns[i].Name, err)
			}
		}
		if err := size.add(row); err != nil {
			return nil, err
		}
		resp.Rows = append(resp.Rows, row)
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *sqliteConn) begin(ctx context.Context) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	// IMMEDIATE takes the write lock now, so a transaction never fails
	// half-way when it first writes.
	if _, err := c.c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		c.unlock()
		return err
	}
	c.inTx = true
	return nil
}

func (c *sqliteConn) end(ctx context.Context, stmt string) error {
	if !c.inTx {
		return errors.New("no transaction")
	}
	_, err := c.c.ExecContext(ctx, stmt)
	if err != nil && stmt == "COMMIT" {
		// A COMMIT that failed (SQLITE_BUSY, a deferred constraint) may
		// leave the transaction open; end it before the lock is let go.
		if _, rerr := c.c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil && !noTx(rerr) {
			c.broken = true
		}
	}
	if err != nil && stmt == "ROLLBACK" && !noTx(err) {
		c.broken = true
	}
	c.inTx = false
	c.unlock()
	return err
}

func (c *sqliteConn) commit(ctx context.Context) error   { return c.end(ctx, "COMMIT") }
func (c *sqliteConn) rollback(ctx context.Context) error { return c.end(ctx, "ROLLBACK") }

func (c *sqliteConn) release() {
	if c.inTx {
		c.rollback(context.Background())
	}
	if c.dirty && !c.broken {
		// The guest may have run BEGIN or SAVEPOINT itself; a connection
		// must go back to the pool with nothing open.
		if _, err := c.c.ExecContext(context.Background(), "ROLLBACK"); err != nil && !noTx(err) {
			c.broken = true
		}
	}
	if c.broken {
		// Throw the connection away rather than pool one in an unknown
		// state.
		c.c.Raw(func(any) error { return errors.New("discard connection") })
	}
	c.c.Close()
}

// noTx reports SQLite's "cannot rollback - no transaction is active".
func noTx(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_ERROR && strings.Contains(se.Error(), "no transaction")
}

// readOnly reports a statement that cannot write: one SELECT. Anything
// else (WITH may wrap a DELETE; "SELECT 1; DELETE ..." runs both) takes
// the write lock, which costs only concurrency.
func readOnly(q string) bool {
	q = strings.TrimLeft(q, " \t\r\n")
	if len(q) < 6 || !strings.EqualFold(q[:6], "select") {
		return false
	}
	return !strings.Contains(strings.TrimRight(q, " \t\r\n;"), ";")
}

// mayControlTx reports a statement that may open a transaction the pool
// would not know about.
func mayControlTx(q string) bool {
	u := strings.ToUpper(q)
	return strings.Contains(u, "BEGIN") || strings.Contains(u, "SAVEPOINT")
}

// sqliteParams counts the arguments a statement needs, the way the driver
// binds them: ?NNN and $NNN take argument NNN, a bare ? the one after the
// highest index so far. named reports :name, @name or $name parameters,
// for which the count says nothing. Quotes and comments are skipped.
func sqliteParams(q string) (n int, named bool) {
	idx := 0 // SQLite's highest parameter index so far
	for i := 0; i < len(q); i++ {
		switch ch := q[i]; ch {
		case '\'', '"', '`':
			j := strings.IndexByte(q[i+1:], ch)
			if j < 0 {
				return n, named
			}
			i += j + 1
		case '[':
			j := strings.IndexByte(q[i+1:], ']')
			if j < 0 {
				return n, named
			}
			i += j + 1
		case '-':
			if i+1 < len(q) && q[i+1] == '-' {
				j := strings.IndexByte(q[i:], '\n')
				if j < 0 {
					return n, named
				}
				i += j
			}
		case '/':
			if i+1 < len(q) && q[i+1] == '*' {
				j := strings.Index(q[i+2:], "*/")
				if j < 0 {
					return n, named
				}
				i += j + 3
			}
		case '?', '$', ':', '@':
			if i > 0 && identChar(q[i-1]) && ch != '?' {
				continue // a '$' inside an identifier
			}
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 && (ch == '?' || ch == '$') {
				k, _ := strconv.Atoi(q[i+1 : j])
				n = max(n, k)
				idx = max(idx, k)
				if ch == '$' {
					idx++ // SQLite gives a $NNN name the next index
				}
				i = j - 1
				continue
			}
			if ch == '?' {
				idx++
				n = max(n, idx)
				continue
			}
			if j < len(q) && identChar(q[j]) {
				named = true
			}
		}
	}
	return n, named
}

func identChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// wireValue converts a value a driver returned.
func wireValue(v any) (wire.SQLValue, error) {
	switch x := v.(type) {
	case time.Time:
		return wire.Time(x), nil
	case []byte:
		if x == nil {
			return wire.Null(), nil
		}
	}
	return wire.ValueOf(v)
}

// sqliteCodeNames names the extended result codes a guest is likely to
// branch on; others are given as numbers.
var sqliteCodeNames = map[int]string{
	sqlite3.SQLITE_ERROR:                 "SQLITE_ERROR",
	sqlite3.SQLITE_BUSY:                  "SQLITE_BUSY",
	sqlite3.SQLITE_LOCKED:                "SQLITE_LOCKED",
	sqlite3.SQLITE_READONLY:              "SQLITE_READONLY",
	sqlite3.SQLITE_INTERRUPT:             "SQLITE_INTERRUPT",
	sqlite3.SQLITE_FULL:                  "SQLITE_FULL",
	sqlite3.SQLITE_TOOBIG:                "SQLITE_TOOBIG",
	sqlite3.SQLITE_CONSTRAINT:            "SQLITE_CONSTRAINT",
	sqlite3.SQLITE_MISMATCH:              "SQLITE_MISMATCH",
	sqlite3.SQLITE_RANGE:                 "SQLITE_RANGE",
	sqlite3.SQLITE_CONSTRAINT_CHECK:      "SQLITE_CONSTRAINT_CHECK",
	sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY: "SQLITE_CONSTRAINT_FOREIGNKEY",
	sqlite3.SQLITE_CONSTRAINT_NOTNULL:    "SQLITE_CONSTRAINT_NOTNULL",
	sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY: "SQLITE_CONSTRAINT_PRIMARYKEY",
	sqlite3.SQLITE_CONSTRAINT_UNIQUE:     "SQLITE_CONSTRAINT_UNIQUE",
	sqlite3.SQLITE_CONSTRAINT_TRIGGER:    "SQLITE_CONSTRAINT_TRIGGER",
	sqlite3.SQLITE_CONSTRAINT_DATATYPE:   "SQLITE_CONSTRAINT_DATATYPE",
	sqlite3.SQLITE_BUSY_SNAPSHOT:         "SQLITE_BUSY_SNAPSHOT",
	sqlite3.SQLITE_CONSTRAINT_ROWID:      "SQLITE_CONSTRAINT_ROWID",
	sqlite3.SQLITE_READONLY_DBMOVED:      "SQLITE_READONLY_DBMOVED",
	sqlite3.SQLITE_CONSTRAINT_FUNCTION:   "SQLITE_CONSTRAINT_FUNCTION",
	sqlite3.SQLITE_CONSTRAINT_VTAB:       "SQLITE_CONSTRAINT_VTAB",
	sqlite3.SQLITE_CONSTRAINT_COMMITHOOK: "SQLITE_CONSTRAINT_COMMITHOOK",
	sqlite3.SQLITE_CONSTRAINT_PINNED:     "SQLITE_CONSTRAINT_PINNED",
	sqlite3.SQLITE_ERROR_MISSING_COLLSEQ: "SQLITE_ERROR_MISSING_COLLSEQ",
	sqlite3.SQLITE_ERROR_RETRY:           "SQLITE_ERROR_RETRY",
	sqlite3.SQLITE_ERROR_SNAPSHOT:        "SQLITE_ERROR_SNAPSHOT",
	sqlite3.SQLITE_BUSY_RECOVERY:         "SQLITE_BUSY_RECOVERY",
	sqlite3.SQLITE_LOCKED_SHAREDCACHE:    "SQLITE_LOCKED_SHAREDCACHE",
	sqlite3.SQLITE_READONLY_RECOVERY:     "SQLITE_READONLY_RECOVERY",
	sqlite3.SQLITE_READONLY_CANTLOCK:     "SQLITE_READONLY_CANTLOCK",
	sqlite3.SQLITE_ABORT_ROLLBACK:        "SQLITE_ABORT_ROLLBACK",
	sqlite3.SQLITE_ABORT:                 "SQLITE_ABORT",
	sqlite3.SQLITE_IOERR:                 "SQLITE_IOERR",
	sqlite3.SQLITE_CORRUPT:               "SQLITE_CORRUPT",
	sqlite3.SQLITE_CANTOPEN:              "SQLITE_CANTOPEN",
	sqlite3.SQLITE_NOMEM:                 "SQLITE_NOMEM",
	sqlite3.SQLITE_SCHEMA:                "SQLITE_SCHEMA",
	sqlite3.SQLITE_AUTH:                  "SQLITE_AUTH",
	sqlite3.SQLITE_PERM:                  "SQLITE_PERM",
	sqlite3.SQLITE_MISUSE:                "SQLITE_MISUSE",
	sqlite3.SQLITE_NOTADB:                "SQLITE_NOTADB",
	sqlite3.SQLITE_READONLY_DIRECTORY:    "SQLITE_READONLY_DIRECTORY",
}

func sqliteError(err error) *wire.SQLError {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code, ok := sqliteCodeNames[se.Code()]
		if !ok {
			code = strconv.Itoa(se.Code())
		}
		return &wire.SQLError{Code: code, Message: se.Error()}
	}
	// The driver checks named arguments itself, without a result code.
	if msg := err.Error(); strings.HasPrefix(msg, "missing argument") || strings.HasPrefix(msg, "missing named argument") {
		return &wire.SQLError{Code: "SQLITE_RANGE", Message: msg}
	}
	return nil
}
