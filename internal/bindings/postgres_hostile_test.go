package bindings

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/host"
	"github.com/stratahq/strata/sdk/go/wire"
)

// TestPostgresResultStopsAtCap is found item 3 on PostgreSQL: a result
// over the cap must stop where the cap is reached, not after the whole
// result was read. Each statement here would send billions of rows (or
// one row of 20 MB); the call must fail with ErrLimit, and the pool must
// keep serving.
func TestPostgresResultStopsAtCap(t *testing.T) {
	s := newSQLEnv(t, postgresCase, 2)
	ctx := s.ctx("inv1")
	for _, tt := range []struct{ name, sql, want string }{
		// Past the row cap after 10,000 of a billion rows: before, the
		// rest was read and discarded when the rows were closed.
		// (generate_series in the select list streams; in FROM, PostgreSQL
		// would build it all before the first row.)
		{"rows", "SELECT generate_series(1, 1000000000)", "more than 10000 rows"},
		// Past the byte cap after about 4 MiB.
		{"bytes", "SELECT repeat('x', 100000), generate_series(1, 1000000000)", "larger than"},
		// One row far over the cap: refused on its length header, never
		// read into memory.
		{"one huge row", "SELECT repeat('x', 20000000)", "a row of the result is"},
		{"two large columns", "SELECT repeat('x', 3000000), repeat('y', 3000000)", "a row of the result is"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				wg  sync.WaitGroup
				err error
			)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err = s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: tt.sql})
			}()
			waitOrFail(t, &wg, time.Minute, "the over-cap result was read to its end")
			require.ErrorIs(t, err, ErrLimit)
			require.ErrorContains(t, err, tt.want)
			require.Len(t, s.must(t, ctx, query("SELECT 1")).Rows, 1)
		})
	}
	// Under the caps: fine.
	r := s.must(t, ctx, query("SELECT repeat('x', 1000000)"))
	require.Len(t, r.Rows[0][0].Text, 1000000)
}

// TestPostgresStatementStopsAtDeadline: a statement is cancelled on the
// server at the invocation's deadline, in or out of a transaction, and
// the call says so.
func TestPostgresStatementStopsAtDeadline(t *testing.T) {
	s := newSQLEnv(t, postgresCase, 2)
	s.must(t, s.ctx("setup"), exec("CREATE TABLE t (x bigint)"))
	for _, tt := range []struct {
		name string
		req  wire.SQLRequest
		tx   bool
	}{
		{"sleep", query("SELECT pg_sleep(3600)"), false},
		{"count", query("SELECT count(*) FROM generate_series(1, 1000000000000)"), false},
		{"exec", exec("INSERT INTO t SELECT i FROM generate_series(1, 1000000000000) AS i"), false},
		{"in a transaction", exec("INSERT INTO t SELECT i FROM generate_series(1, 1000000000000) AS i"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := "inv-" + tt.name
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
				wg  sync.WaitGroup
				err error
			)
			wg.Add(1)
			go func() { defer wg.Done(); _, err = s.b.SQL(ctx, req) }()
			waitOrFail(t, &wg, time.Minute, "the statement outlived its deadline")
			require.ErrorIs(t, err, ErrTimeout)
			require.ErrorContains(t, err, "deadline")
			s.b.EndInvocation(inv)
		})
	}
	require.Equal(t, int64(0), s.must(t, s.ctx("after"), query("SELECT count(*) FROM t")).Rows[0][0].Int)
	// The server stops running them (the cancel is acknowledged before
	// the call returns, unless the server was slower than pgCancelGrace
	// and the connection was closed instead: hence a bounded wait).
	require.Eventually(t, func() bool {
		r := s.must(t, s.ctx("after"), query("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%generate_series(1, 1000000000000)%' AND pid <> pg_backend_pid()"))
		return r.Rows[0][0].Int == 0
	}, 30*time.Second, 50*time.Millisecond, "a statement stopped at its deadline still runs on the server")
}
