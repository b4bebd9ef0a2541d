package bindings

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/sdk/go/wire"
)

// platformFile creates a SQLite file standing in for Strata's own store
// (strata.db in the data directory) with one token row, and returns its
// path and a function counting its rows.
func platformFile(t *testing.T, dir string) (string, func() int) {
	t.Helper()
	path := filepath.Join(dir, "strata.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	_, err = db.Exec("CREATE TABLE tokens (hash TEXT PRIMARY KEY); INSERT INTO tokens VALUES ('operator')")
	require.NoError(t, err)
	return path, func() int {
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM tokens").Scan(&n))
		return n
	}
}

// refused runs req and requires the platform to refuse it with a message
// containing want.
func (s *sqlEnv) refused(t *testing.T, ctx context.Context, req wire.SQLRequest, want string) {
	t.Helper()
	req.Binding = "db"
	resp, err := s.b.SQL(ctx, req)
	if err == nil && resp.Error != nil {
		t.Fatalf("%s: want a refusal, got database error %s: %s", req.SQL, resp.Error.Code, resp.Error.Message)
	}
	require.ErrorIs(t, err, ErrNotPermitted, req.SQL)
	require.ErrorContains(t, err, want, req.SQL)
}

// TestSQLiteCannotAttach is found item 1: a guest attached the platform's
// store and wrote itself an admin token, or read it through a read-only
// URI. Every form of ATTACH is refused, on every path a statement can
// take, and nothing outside the guest's file is read, written or created.
func TestSQLiteCannotAttach(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 4)
	store, tokens := platformFile(t, s.dir)
	created := filepath.Join(s.dir, "created.db")
	ctx := s.ctx("inv1")
	s.must(t, ctx, exec("CREATE TABLE t (x INTEGER)"))

	for _, q := range []string{
		"ATTACH DATABASE '" + store + "' AS w",
		"ATTACH '" + store + "' AS w; INSERT INTO w.tokens VALUES ('attacker')",
		"attach   database '" + store + "' as w",
		"ATTACH 'file:" + store + "?mode=ro' AS w",
		"ATTACH 'file:" + store + "?mode=ro&immutable=1' AS w",
		"ATTACH '" + created + "' AS c",
		"SELECT 1; ATTACH '" + store + "' AS w",
		"INSERT INTO t VALUES (1); ATTACH '" + store + "' AS w",
	} {
		t.Run(q, func(t *testing.T) {
			s.refused(t, ctx, exec(q), "ATTACH DATABASE and VACUUM INTO are not available")
			s.refused(t, ctx, query(q), "ATTACH DATABASE and VACUUM INTO are not available")
		})
	}
	// Inside a transaction: the same.
	tx := s.must(t, ctx, wire.SQLRequest{Op: wire.SQLBegin}).Tx
	s.refused(t, ctx, wire.SQLRequest{Op: wire.SQLExec, Tx: tx, SQL: "ATTACH '" + store + "' AS w"}, "ATTACH")
	s.must(t, ctx, wire.SQLRequest{Op: wire.SQLRollback, Tx: tx})

	s.refused(t, ctx, exec("DETACH DATABASE w"), "DETACH")
	// The admin shell goes through the same connections.
	_, err := s.b.Query(context.Background(), s.db, "ATTACH '"+store+"' AS w", nil)
	require.ErrorIs(t, err, ErrNotPermitted)

	require.Equal(t, 1, tokens(), "the platform file was written")
	require.NoFileExists(t, created)
	s.must(t, ctx, exec("INSERT INTO t VALUES (2)")) // the guest's own database still works
}

// TestSQLiteEveryPooledConnectionIsConfined holds all of a database's
// connections at once and attacks on each: the hardening is per physical
// connection, not per pool.
func TestSQLiteEveryPooledConnectionIsConfined(t *testing.T) {
	const conns = 4
	s := newSQLEnv(t, sqliteCase, conns)
	store, tokens := platformFile(t, s.dir)
	ctx := s.ctx("inv1")
	d, err := s.b.db(ctx, s.db)
	require.NoError(t, err)

	var held []engineConn
	for range conns {
		ec, err := acquire(ctx, d)
		require.NoError(t, err)
		held = append(held, ec)
	}
	for i, ec := range held {
		_, err := ec.run(ctx, "ATTACH '"+store+"' AS w", nil, false, s.b.limits())
		require.ErrorIs(t, err, ErrNotPermitted, "connection %d", i)
		_, err = ec.run(ctx, "SELECT zeroblob(999999999)", nil, true, s.b.limits())
		require.Equal(t, "SQLITE_TOOBIG", sqlError(err).Code, "connection %d: %v", i, err)
	}
	for _, ec := range held {
		ec.release()
	}

	// Below the per-use guard, the connector's own authorizer already
	// refuses: a connection is never unguarded.
	raw, err := d.eng.(*sqliteEngine).db.Conn(ctx)
	require.NoError(t, err)
	defer raw.Close()
	_, err = raw.ExecContext(ctx, "ATTACH '"+store+"' AS w")
	require.ErrorContains(t, err, "not authorized")
	require.Equal(t, 1, tokens())
}

// TestSQLiteCannotVacuumInto is found item 1's file write: VACUUM INTO
// created a copy of the database wherever the server could write.
func TestSQLiteCannotVacuumInto(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 2)
	ctx := s.ctx("inv1")
	s.must(t, ctx, exec("CREATE TABLE t (x TEXT)"))
	s.must(t, ctx, exec("INSERT INTO t VALUES ('secret')"))
	out := filepath.Join(s.dir, "copy.db")
	s.refused(t, ctx, exec("VACUUM INTO '"+out+"'"), "VACUUM INTO")
	s.refused(t, ctx, exec("VACUUM main INTO '"+out+"'"), "VACUUM INTO")
	s.refused(t, ctx, exec("VACUUM INTO 'file:"+out+"?mode=rwc'"), "VACUUM INTO")
	require.NoFileExists(t, out)
	// Plain VACUUM attaches a temporary database too; it is refused with a
	// message that says what to do instead.
	s.refused(t, ctx, exec("VACUUM"), "PRAGMA incremental_vacuum")
	s.refused(t, ctx, exec("ATTACH '' AS scratch"), "VACUUM (and ATTACH of a temporary database)")
	s.must(t, ctx, exec("PRAGMA incremental_vacuum"))
}

// TestSQLitePragmasAndFunctions: PRAGMAs that name files, weaken safety
// or outlive the call are refused; schema queries and reading settings
// still work, and so does ordinary SQL.
func TestSQLitePragmasAndFunctions(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 2)
	ctx := s.ctx("inv1")
	s.must(t, ctx, exec("CREATE TABLE p (id INTEGER PRIMARY KEY)"))
	s.must(t, ctx, exec("CREATE TABLE t (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p(id), s TEXT)"))
	s.must(t, ctx, exec("CREATE INDEX t_s ON t(s)"))

	for _, tt := range []struct{ sql, want string }{
		{"PRAGMA writable_schema = ON", "PRAGMA writable_schema is not available"},
		{"PRAGMA writable_schema", "PRAGMA writable_schema is not available"},
		{"PRAGMA database_list", "PRAGMA database_list is not available"},
		{"SELECT file FROM pragma_database_list", "PRAGMA database_list is not available"},
		{"PRAGMA temp_store_directory = '/tmp'", "temp_store_directory"},
		{"PRAGMA hard_heap_limit = 1", "hard_heap_limit"},
		{"PRAGMA wal_checkpoint(TRUNCATE)", "wal_checkpoint"},
		{"PRAGMA journal_mode = DELETE", "PRAGMA journal_mode may be read but not set"},
		{"PRAGMA journal_mode = OFF", "PRAGMA journal_mode may be read but not set"},
		{"PRAGMA synchronous = OFF", "PRAGMA synchronous may be read but not set"},
		{"PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys may be read but not set"},
		{"PRAGMA cache_size = -100000000", "PRAGMA cache_size may be read but not set"},
		{"PRAGMA mmap_size = 1000000000", "PRAGMA mmap_size may be read but not set"},
		{"PRAGMA ignore_check_constraints = ON", "may be read but not set"},
		{"SELECT load_extension('/tmp/evil.so')", "load_extension() is not available"},
		{"CREATE VIRTUAL TABLE v USING generate_series", "virtual table module"},
	} {
		t.Run(tt.sql, func(t *testing.T) { s.refused(t, ctx, exec(tt.sql), tt.want) })
	}

	// Allowed: introspection, checks, reading settings, user_version.
	for _, q := range []string{
		"PRAGMA table_info(t)", "PRAGMA table_xinfo('t')", "PRAGMA index_list(t)", "PRAGMA index_info(t_s)",
		"PRAGMA foreign_key_list(t)", "PRAGMA foreign_key_check", "PRAGMA integrity_check", "PRAGMA quick_check",
		"SELECT name FROM pragma_table_info('t') ORDER BY cid", "PRAGMA user_version = 7", "PRAGMA main.user_version",
		"PRAGMA journal_mode", "PRAGMA foreign_keys", "PRAGMA page_count", "PRAGMA defer_foreign_keys = ON",
	} {
		s.must(t, ctx, query(q))
	}
	require.Equal(t, "wal", s.must(t, ctx, query("PRAGMA journal_mode")).Rows[0][0].Text)
	require.Equal(t, int64(1), s.must(t, ctx, query("PRAGMA foreign_keys")).Rows[0][0].Int)
	require.Equal(t, int64(7), s.must(t, ctx, query("PRAGMA user_version")).Rows[0][0].Int)
	cols := s.must(t, ctx, query("SELECT name FROM pragma_table_info('t') ORDER BY cid"))
	require.Len(t, cols.Rows, 3)

	// Defensive mode: the shadow tables of a full-text index cannot be
	// written (they would let a guest corrupt the file), while the index
	// itself works.
	s.must(t, ctx, exec("CREATE VIRTUAL TABLE docs USING fts5(body)"))
	s.must(t, ctx, exec("INSERT INTO docs VALUES ('hello world')"))
	require.Len(t, s.must(t, ctx, query("SELECT body FROM docs WHERE docs MATCH 'hello'")).Rows, 1)
	resp, err := s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLExec, Binding: "db", SQL: "INSERT INTO docs_data VALUES (1000, x'00')"})
	require.NoError(t, err)
	require.NotNil(t, resp.Error)
	require.Contains(t, resp.Error.Message, "may not be modified")

	// Ordinary SQL: savepoints, CTEs, triggers, temp tables, transactions.
	s.must(t, ctx, exec("INSERT INTO p VALUES (1)"))
	s.must(t, ctx, exec("SAVEPOINT a; INSERT INTO t (p, s) VALUES (1, 'x'); RELEASE a"))
	s.must(t, ctx, exec("CREATE TEMP TABLE scratch AS SELECT 1 AS n"))
	s.must(t, ctx, exec("CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE p SET id = id WHERE id = NEW.p; END"))
	tx := s.must(t, ctx, wire.SQLRequest{Op: wire.SQLBegin}).Tx
	s.must(t, ctx, wire.SQLRequest{Op: wire.SQLExec, Tx: tx, SQL: "INSERT INTO t (p, s) VALUES (1, 'y')"})
	s.must(t, ctx, wire.SQLRequest{Op: wire.SQLCommit, Tx: tx})
	r := s.must(t, ctx, query("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) SELECT sum(i) FROM n"))
	require.Equal(t, int64(5050), r.Rows[0][0].Int)
	require.Len(t, s.must(t, ctx, query("SELECT * FROM t")).Rows, 2)
	// A foreign key is still enforced: the guest could not turn it off.
	resp, err = s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLExec, Binding: "db", SQL: "INSERT INTO t (p) VALUES (99)"})
	require.NoError(t, err)
	require.Equal(t, "SQLITE_CONSTRAINT_FOREIGNKEY", resp.Error.Code)
}

// TestSQLiteLengthLimit is found item 3: SELECT zeroblob(999999999),
// zeroblob(999999999) built two gigabytes before the 4 MiB result cap was
// checked. SQLITE_LIMIT_LENGTH is now the cap: SQLite refuses to build
// the value at all (SQLITE_TOOBIG comes from the length check, before any
// allocation).
func TestSQLiteLengthLimit(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 2) // the default cap, 4 MiB
	ctx := s.ctx("inv1")
	s.must(t, ctx, exec("CREATE TABLE t (b BLOB)"))
	for _, q := range []string{
		"SELECT zeroblob(999999999), zeroblob(999999999)",
		"SELECT randomblob(999999999)",
		"SELECT length(zeroblob(3000000) || zeroblob(3000000))",
		"SELECT printf('%.*c', 999999999, 'x')",
		"SELECT length(replace(hex(zeroblob(1100000)), '0', 'xx'))",
		"WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) SELECT length(s) FROM r",
		"INSERT INTO t VALUES (zeroblob(999999999))",
	} {
		t.Run(q, func(t *testing.T) {
			resp, err := s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: q})
			require.NoError(t, err)
			require.NotNil(t, resp.Error, "the value was built")
			require.Equal(t, "SQLITE_TOOBIG", resp.Error.Code)
			require.Contains(t, resp.Error.Message, "result cap")
		})
	}
	// Under the cap: fine.
	s.must(t, ctx, exec("INSERT INTO t VALUES (zeroblob(1000000))"))
	r := s.must(t, ctx, query("SELECT length(b) FROM t"))
	require.Equal(t, int64(1000000), r.Rows[0][0].Int)
}

// TestSQLiteStatementStopsAtDeadline is found item 3's deadline: a
// statement ran on past its invocation's deadline. Each of these would
// run for hours; each must come back as a timeout once the deadline
// passes, and the database must keep serving.
func TestSQLiteStatementStopsAtDeadline(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 2)
	s.must(t, s.ctx("setup"), exec("CREATE TABLE t (x INTEGER)"))
	forever := "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) "
	for _, tt := range []struct {
		name string
		req  wire.SQLRequest
		tx   bool
	}{
		// No row before the deadline: stopped inside the driver's Query.
		{"query", query(forever + "SELECT count(*) FROM r"), false},
		// A first row at once, the next never: stopped inside rows.Next,
		// where the driver itself does not interrupt.
		{"next row", query(forever + "SELECT i FROM r WHERE i = 1 OR i = 4000000000"), false},
		{"exec", exec("INSERT INTO t " + forever + "SELECT i FROM r"), false},
		{"in a transaction", query(forever + "SELECT i FROM r WHERE i = 1 OR i = 4000000000"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := "inv-" + strings.ReplaceAll(tt.name, " ", "-")
			ctx := withCaller(context.Background(), &host.Call{Function: "app", Version: 1, InvocationID: inv, Config: s.cfg,
				Deadline: time.Now().Add(300 * time.Millisecond)})
			req := tt.req
			req.Binding = "db"
			if tt.tx {
				resp, err := s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLBegin, Binding: "db"})
				require.NoError(t, err)
				req.Tx = resp.Tx
			}
			var (
				wg   sync.WaitGroup
				resp *wire.SQLResponse
				err  error
			)
			wg.Add(1)
			go func() { defer wg.Done(); resp, err = s.b.SQL(ctx, req) }()
			waitOrFail(t, &wg, time.Minute, "the statement outlived its deadline")
			require.ErrorIs(t, err, ErrTimeout, "response %+v", resp)
			require.ErrorContains(t, err, "deadline")
			s.b.EndInvocation(inv)
		})
	}
	// The database still serves, and nothing was written.
	require.Equal(t, int64(0), s.must(t, s.ctx("after"), query("SELECT count(*) FROM t")).Rows[0][0].Int)
}

// waitOrFail waits for wg, failing the test if that takes longer than
// limit: a bound on a hang, not a speed assertion.
func waitOrFail(t *testing.T, wg *sync.WaitGroup, limit time.Duration, msg string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s (still running after %s)", msg, limit)
	}
}
