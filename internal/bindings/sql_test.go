package bindings

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// engineCase runs the same SQL tests on each engine.
type engineCase struct {
	name string
	// newDB registers a fresh, empty database in f's store and returns
	// its name.
	newDB func(t testing.TB, f *fixture, maxConns int) string
	// ddl of table t(id, i, f, s, b, flag, ts) in this engine's types.
	ddl string
	// codes the engine reports.
	syntaxCode, argsCode, uniqueCode string
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

var sqliteCase = engineCase{
	name: "sqlite",
	newDB: func(t testing.TB, f *fixture, maxConns int) string {
		name := randomName("db")
		f.st.addDatabase(record.DatabaseConfig{Name: name, Engine: record.EngineSQLite, MaxConnections: maxConns})
		return name
	},
	ddl:        "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, f REAL, s TEXT, b BLOB, flag BOOLEAN, ts DATETIME)",
	syntaxCode: "SQLITE_ERROR", argsCode: "SQLITE_RANGE", uniqueCode: "SQLITE_CONSTRAINT_PRIMARYKEY",
}

// pgURL returns STRATA_TEST_POSTGRES with params set, or skips.
func pgURL(t testing.TB, params map[string]string) string {
	base := os.Getenv("STRATA_TEST_POSTGRES")
	if base == "" {
		t.Skip("STRATA_TEST_POSTGRES not set")
	}
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// pgSchema creates a fresh schema, dropped when the test ends.
func pgSchema(t testing.TB) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgURL(t, nil))
	require.NoError(t, err)
	defer conn.Close(ctx)
	schema := randomName("strata_bt_")
	_, err = conn.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, pgURL(t, nil))
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

var postgresCase = engineCase{
	name: "postgres",
	newDB: func(t testing.TB, f *fixture, maxConns int) string {
		schema := pgSchema(t)
		f.st.addDatabase(record.DatabaseConfig{Name: schema, Engine: record.EnginePostgres, MaxConnections: maxConns,
			URL: pgURL(t, map[string]string{"search_path": schema, "application_name": schema})})
		return schema
	},
	ddl:        "CREATE TABLE t (id bigint PRIMARY KEY, i bigint, f double precision, s text, b bytea, flag boolean, ts timestamptz)",
	syntaxCode: "42601", argsCode: "08P01", uniqueCode: "23505",
}

func forEngines(t *testing.T, f func(t *testing.T, e engineCase)) {
	for _, e := range []engineCase{sqliteCase, postgresCase} {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// sqlEnv is one database with a function bound to it as "db".
type sqlEnv struct {
	*fixture
	db  string
	cfg record.FunctionConfig
}

func newSQLEnv(t testing.TB, e engineCase, maxConns int, mod ...func(*Config)) *sqlEnv {
	f := setup(t, mod...)
	db := e.newDB(t, f, maxConns)
	return &sqlEnv{fixture: f, db: db, cfg: record.FunctionConfig{Bindings: []record.Binding{sqlBinding("db", db)}}}
}

func (s *sqlEnv) ctx(invocation string) context.Context { return as("app", invocation, s.cfg) }

// must runs a request that must succeed in the database too.
func (s *sqlEnv) must(t testing.TB, ctx context.Context, req wire.SQLRequest) *wire.SQLResponse {
	t.Helper()
	req.Binding = "db"
	resp, err := s.b.SQL(ctx, req)
	require.NoError(t, err)
	require.Nil(t, resp.Error, "%s: %v", req.SQL, resp.Error)
	return resp
}

func exec(sql string, args ...wire.SQLValue) wire.SQLRequest {
	return wire.SQLRequest{Op: wire.SQLExec, SQL: sql, Args: args}
}

func query(sql string, args ...wire.SQLValue) wire.SQLRequest {
	return wire.SQLRequest{Op: wire.SQLQuery, SQL: sql, Args: args}
}

func TestSQLTypedRoundTrip(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 4)
		ctx := s.ctx("inv1")
		s.must(t, ctx, exec(e.ddl))
		ts := time.Date(2026, 11, 25, 10, 30, 0, 123456000, time.UTC)
		resp := s.must(t, ctx, exec("INSERT INTO t (id, i, f, s, b, flag, ts) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			wire.Int(1), wire.Int(-1<<62), wire.Float(2.5), wire.Text("héllo'; DROP TABLE t; --"),
			wire.Bytes([]byte{0, 0xff, 1}), wire.Bool(true), wire.Time(ts)))
		require.EqualValues(t, 1, resp.RowsAffected)
		s.must(t, ctx, exec("INSERT INTO t (id) VALUES ($1)", wire.Int(2)))

		resp = s.must(t, ctx, query("SELECT id, i, f, s, b, flag, ts FROM t ORDER BY id"))
		names := []string{}
		for _, c := range resp.Columns {
			names = append(names, c.Name)
		}
		require.Equal(t, []string{"id", "i", "f", "s", "b", "flag", "ts"}, names)
		require.Len(t, resp.Rows, 2)
		row := resp.Rows[0]
		require.Equal(t, wire.Int(1), row[0])
		require.Equal(t, wire.Int(-1<<62), row[1])
		require.Equal(t, wire.Float(2.5), row[2])
		require.Equal(t, wire.Text("héllo'; DROP TABLE t; --"), row[3], "parameters are bound, never interpolated")
		require.Equal(t, wire.Bytes([]byte{0, 0xff, 1}), row[4])
		got, err := row[6].Any()
		require.NoError(t, err)
		require.True(t, ts.Equal(got.(time.Time)), "time %v, want %v", got, ts)
		for i, v := range resp.Rows[1][1:] {
			require.Equal(t, wire.Null(), v, "column %s of row 2", names[i+1])
		}
		switch e.name {
		case "postgres":
			require.Equal(t, wire.Bool(true), row[5])
			require.Equal(t, "int8", resp.Columns[0].Type)
			require.Equal(t, "timestamptz", resp.Columns[6].Type)
		case "sqlite":
			require.Equal(t, wire.Int(1), row[5], "SQLite stores booleans as integers")
			require.Equal(t, "INTEGER", resp.Columns[0].Type)
			require.Equal(t, "DATETIME", resp.Columns[6].Type)
		}
	})
}

func TestSQLDatabaseErrors(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 2)
		ctx := s.ctx("inv1")
		s.must(t, ctx, exec(e.ddl))
		s.must(t, ctx, exec("INSERT INTO t (id) VALUES ($1)", wire.Int(1)))
		tests := []struct {
			name, code, msg string
			req             wire.SQLRequest
		}{
			{"syntax", e.syntaxCode, "syntax", query("SELEC * FROM t")},
			{"too few args", e.argsCode, "", query("SELECT id FROM t WHERE id = $1 AND i = $2", wire.Int(1))},
			{"too many args", e.argsCode, "", query("SELECT id FROM t WHERE id = $1", wire.Int(1), wire.Int(2))},
			{"too many exec args", e.argsCode, "", exec("DELETE FROM t WHERE id = $1", wire.Int(1), wire.Int(2))},
			{"duplicate key", e.uniqueCode, "", exec("INSERT INTO t (id) VALUES ($1)", wire.Int(1))},
			{"no table", map[string]string{"sqlite": "SQLITE_ERROR", "postgres": "42P01"}[e.name], "nope", query("SELECT * FROM nope")},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.Binding = "db"
				resp, err := s.b.SQL(ctx, tt.req)
				require.NoError(t, err, "database errors travel in the response")
				require.NotNil(t, resp.Error)
				require.Equal(t, tt.code, resp.Error.Code, resp.Error.Message)
				require.NotEmpty(t, resp.Error.Message)
				require.Contains(t, resp.Error.Message, tt.msg)
			})
		}
		// The connection is still good after the errors.
		resp := s.must(t, ctx, query("SELECT count(*) FROM t"))
		require.Equal(t, wire.Int(1), resp.Rows[0][0])
	})
}

func TestSQLTransactionLeftOpenIsRolledBack(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 2)
		s.must(t, s.ctx("setup"), exec(e.ddl))

		ctx := s.ctx("inv-open")
		tx := s.must(t, ctx, wire.SQLRequest{Op: wire.SQLBegin}).Tx
		require.NotEmpty(t, tx)
		ins := exec("INSERT INTO t (id, s) VALUES ($1, $2)", wire.Int(7), wire.Text("uncommitted"))
		ins.Tx = tx
		s.must(t, ctx, ins)
		in := query("SELECT s FROM t WHERE id = $1", wire.Int(7))
		in.Tx = tx
		require.Len(t, s.must(t, ctx, in).Rows, 1, "the transaction sees its own row")

		// Another invocation cannot use the transaction.
		_, err := s.b.SQL(s.ctx("inv-other"), wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", Tx: tx, SQL: "SELECT 1"})
		require.ErrorIs(t, err, ErrBadRequest)

		s.b.EndInvocation("inv-open")

		resp := s.must(t, s.ctx("inv-after"), query("SELECT count(*) FROM t WHERE id = $1", wire.Int(7)))
		require.Equal(t, wire.Int(0), resp.Rows[0][0], "the row of the abandoned transaction is gone")
		_, err = s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLCommit, Binding: "db", Tx: tx})
		require.ErrorIs(t, err, ErrBadRequest, "the transaction is over")
	})
}

func TestSQLTransactionCommitAndRollback(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 2)
		ctx := s.ctx("inv1")
		s.must(t, ctx, exec(e.ddl))
		for _, tc := range []struct {
			op   string
			id   int64
			want int64
		}{{wire.SQLCommit, 1, 1}, {wire.SQLRollback, 2, 0}} {
			tx := s.must(t, ctx, wire.SQLRequest{Op: wire.SQLBegin}).Tx
			ins := exec("INSERT INTO t (id) VALUES ($1)", wire.Int(tc.id))
			ins.Tx = tx
			s.must(t, ctx, ins)
			s.must(t, ctx, wire.SQLRequest{Op: tc.op, Tx: tx})
			resp := s.must(t, ctx, query("SELECT count(*) FROM t WHERE id = $1", wire.Int(tc.id)))
			require.Equal(t, wire.Int(tc.want), resp.Rows[0][0], tc.op)
		}
		s.b.EndInvocation("inv1") // nothing left open: a no-op
	})
}

func TestSQLConnectionWaitRespectsDeadline(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 1)
		s.must(t, s.ctx("a"), exec(e.ddl))
		s.must(t, s.ctx("a"), wire.SQLRequest{Op: wire.SQLBegin}) // holds the only connection

		ctx, cancel := context.WithTimeout(s.ctx("b"), 200*time.Millisecond)
		defer cancel()
		_, err := s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: "SELECT 1"})
		require.ErrorIs(t, err, ErrTimeout)
		require.Contains(t, err.Error(), "max_connections")

		s.b.EndInvocation("a")
		s.must(t, s.ctx("b"), query("SELECT 1"))
	})
}

func TestSQLResultCap(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 2, func(c *Config) { c.MaxRows = 5; c.MaxResultBytes = 1000 })
		ctx := s.ctx("inv1")
		s.must(t, ctx, exec(e.ddl))
		for i := range 6 {
			s.must(t, ctx, exec("INSERT INTO t (id, s) VALUES ($1, $2)", wire.Int(int64(i)), wire.Text("x")))
		}
		require.Len(t, s.must(t, ctx, query("SELECT id FROM t LIMIT 5")).Rows, 5)
		_, err := s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: "SELECT id FROM t"})
		require.ErrorIs(t, err, ErrLimit)
		require.Contains(t, err.Error(), "LIMIT")

		// Two values each under the byte cap, together over it. (One
		// value over the cap cannot even be stored in SQLite, whose
		// SQLITE_LIMIT_LENGTH is the cap: see TestSQLiteLengthLimit.)
		s.must(t, ctx, exec("UPDATE t SET s = $1 WHERE id < 2", wire.Text(strings.Repeat("y", 600))))
		_, err = s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: "SELECT s FROM t WHERE id < 2"})
		require.ErrorIs(t, err, ErrLimit)
	})
}

func TestSQLPermissions(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 2)
	s.cfg.Bindings = append(s.cfg.Bindings, record.Binding{Name: "cache", Kind: record.BindingKV, Resource: "c"})
	tests := []struct {
		name string
		ctx  context.Context
		req  wire.SQLRequest
		want error
	}{
		{"no caller", context.Background(), query("SELECT 1"), ErrNoCaller},
		{"undeclared binding", s.ctx("i"), wire.SQLRequest{Op: wire.SQLQuery, Binding: "other", SQL: "SELECT 1"}, ErrNotPermitted},
		{"kv binding", s.ctx("i"), wire.SQLRequest{Op: wire.SQLQuery, Binding: "cache", SQL: "SELECT 1"}, ErrNotPermitted},
		{"unknown op", s.ctx("i"), wire.SQLRequest{Op: "drop", Binding: "db"}, ErrBadRequest},
		{"commit without tx", s.ctx("i"), wire.SQLRequest{Op: wire.SQLCommit, Binding: "db"}, ErrBadRequest},
		{"unknown tx", s.ctx("i"), wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", Tx: "tx_nope", SQL: "SELECT 1"}, ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.Binding == "" {
				tt.req.Binding = "db"
			}
			_, err := s.b.SQL(tt.ctx, tt.req)
			require.ErrorIs(t, err, tt.want)
		})
	}
	// A binding to a database that is not configured names it.
	s.cfg.Bindings = []record.Binding{sqlBinding("db", "missing")}
	_, err := s.b.SQL(s.ctx("i"), wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: "SELECT 1"})
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Contains(t, err.Error(), "missing")
}

func TestSQLiteFileLayoutAndConfigCache(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 2)
	for range 3 {
		s.must(t, s.ctx("i"), query("SELECT 1"))
	}
	_, err := os.Stat(filepath.Join(s.dir, "databases", s.db+".db"))
	require.NoError(t, err)
	s.st.mu.Lock()
	require.Equal(t, 1, s.st.dbGets, "the configuration is read once and cached")
	s.st.mu.Unlock()

	f := setup(t)
	f.st.addDatabase(record.DatabaseConfig{Name: "../escape", Engine: record.EngineSQLite})
	_, err = f.b.Query(context.Background(), "../escape", "SELECT 1", nil)
	require.Error(t, err)
}

func TestSQLAdminQuery(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 2)
		ctx := context.Background()
		resp, err := s.b.Query(ctx, s.db, e.ddl, nil)
		require.NoError(t, err)
		require.Nil(t, resp.Error)
		resp, err = s.b.Query(ctx, s.db, "SELECT $1 + 1 AS n", []wire.SQLValue{wire.Int(41)})
		require.NoError(t, err)
		require.Nil(t, resp.Error)
		require.Equal(t, "n", resp.Columns[0].Name)
		require.Equal(t, wire.Int(42), resp.Rows[0][0])
		resp, err = s.b.Query(ctx, s.db, "SELEC", nil)
		require.NoError(t, err)
		require.Equal(t, e.syntaxCode, resp.Error.Code)
	})
}

func TestMigrate(t *testing.T) {
	forEngines(t, func(t *testing.T, e engineCase) {
		s := newSQLEnv(t, e, 2)
		ctx := context.Background()
		files := []Migration{
			{Name: "0002_seed.sql", SQL: "INSERT INTO users (id, name) VALUES (1, 'ada');\nINSERT INTO users (id, name) VALUES (2, 'bob');"},
			{Name: "0001_users.sql", SQL: "CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL);"},
		}
		applied, err := s.b.Migrate(ctx, s.db, files)
		require.NoError(t, err)
		require.Equal(t, []string{"0001_users.sql", "0002_seed.sql"}, applied)

		applied, err = s.b.Migrate(ctx, s.db, files)
		require.NoError(t, err)
		require.Empty(t, applied, "each migration runs once")

		// A failing migration is rolled back whole and stops the run.
		files = append(files,
			Migration{Name: "0003_bad.sql", SQL: "INSERT INTO users (id, name) VALUES (3, 'cy');\nINSERT INTO users (id, name) VALUES (1, 'dup');"},
			Migration{Name: "0004_after.sql", SQL: "CREATE TABLE later (id integer);"})
		applied, err = s.b.Migrate(ctx, s.db, files)
		require.Error(t, err)
		require.Empty(t, applied)
		require.Contains(t, err.Error(), "0003_bad.sql")
		var se *wire.SQLError
		require.True(t, errors.As(err, &se), "the database's code travels: %v", err)
		require.Equal(t, e.uniqueCode, se.Code)

		resp, err := s.b.Query(ctx, s.db, "SELECT count(*) FROM users", nil)
		require.NoError(t, err)
		require.Equal(t, wire.Int(2), resp.Rows[0][0], "the failed migration's first insert was rolled back")
		resp, err = s.b.Query(ctx, s.db, "SELECT name FROM strata_migrations ORDER BY name", nil)
		require.NoError(t, err)
		require.Len(t, resp.Rows, 2)
	})
}

func TestSQLTransactionReapedAfterDeadline(t *testing.T) {
	s := newSQLEnv(t, sqliteCase, 1)
	s.b.txGrace = 0
	s.must(t, s.ctx("setup"), exec(sqliteCase.ddl))
	ctx := WithCaller(context.Background(), Caller{Function: "app", Version: 1, InvocationID: "forgotten", Config: s.cfg,
		Deadline: time.Now().Add(100 * time.Millisecond)})
	tx := s.must(t, ctx, wire.SQLRequest{Op: wire.SQLBegin}).Tx
	ins := exec("INSERT INTO t (id) VALUES (1)")
	ins.Tx = tx
	s.must(t, ctx, ins)
	// Nobody calls EndInvocation; the only connection comes back anyway,
	// without the row.
	later, cancel := context.WithTimeout(s.ctx("later"), 30*time.Second)
	defer cancel()
	resp := s.must(t, later, query("SELECT count(*) FROM t"))
	require.Equal(t, wire.Int(0), resp.Rows[0][0])
	s.b.txMu.Lock()
	require.Empty(t, s.b.txs)
	s.b.txMu.Unlock()
}
