package bindings

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/sdk/go/wire"
)

const benchRows = 1000

// timed runs f b.N times and reports the p50 and p99 of one call besides
// the mean, since the overhead target is a median.
func timed(b *testing.B, f func(i int)) {
	d := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		f(i)
		d = append(d, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkSQLPointQuery compares a point query through Bindings.SQL (the
// host side of a guest's query: binding lookup, pool, conversion to wire
// values) with the same query straight through the driver.
func BenchmarkSQLPointQuery(b *testing.B) {
	for _, e := range []engineCase{sqliteCase, postgresCase} {
		b.Run(e.name, func(b *testing.B) {
			s := newSQLEnv(b, e, 4)
			ctx := s.ctx("bench")
			s.must(b, ctx, exec(e.ddl))
			tx := s.must(b, ctx, wire.SQLRequest{Op: wire.SQLBegin}).Tx
			for i := range benchRows {
				req := exec("INSERT INTO t (id, i, s) VALUES ($1, $2, $3)", wire.Int(int64(i)), wire.Int(int64(i*7)), wire.Text("row"))
				req.Tx = tx
				s.must(b, ctx, req)
			}
			s.must(b, ctx, wire.SQLRequest{Op: wire.SQLCommit, Tx: tx})
			const q = "SELECT id, i, s FROM t WHERE id = $1"

			b.Run("bindings", func(b *testing.B) {
				timed(b, func(i int) {
					resp, err := s.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: q,
						Args: []wire.SQLValue{wire.Int(int64(i % benchRows))}})
					if err != nil || resp.Error != nil || len(resp.Rows) != 1 {
						b.Fatal(err, resp)
					}
				})
			})
			b.Run("driver", func(b *testing.B) {
				var id, n int64
				var str string
				switch e.name {
				case "sqlite":
					db, err := sql.Open("sqlite", SQLitePath(s.dir, s.db)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
					require.NoError(b, err)
					defer db.Close()
					db.SetMaxOpenConns(4)
					timed(b, func(i int) {
						if err := db.QueryRowContext(ctx, q, int64(i%benchRows)).Scan(&id, &n, &str); err != nil {
							b.Fatal(err)
						}
					})
				case "postgres":
					cfg, err := s.st.DatabaseGet(ctx, s.db)
					require.NoError(b, err)
					pool, err := pgxpool.New(ctx, cfg.URL)
					require.NoError(b, err)
					defer pool.Close()
					timed(b, func(i int) {
						if err := pool.QueryRow(ctx, q, int64(i%benchRows)).Scan(&id, &n, &str); err != nil {
							b.Fatal(err)
						}
					})
				}
			})
		})
	}
}

// BenchmarkSecret measures a guest's secret read: store read and decrypt.
func BenchmarkSecret(b *testing.B) {
	f := setup(b)
	require.NoError(b, f.b.SecretSet(context.Background(), testProject, "K", []byte("0123456789abcdef0123456789abcdef")))
	ctx := as("app", "i", storeConfigWithSecret("K"))
	timed(b, func(int) {
		if _, err := f.b.Secret(ctx, "K"); err != nil {
			b.Fatal(err)
		}
	})
}
