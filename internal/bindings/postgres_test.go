package bindings

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/sdk/go/wire"
)

// TestPostgresPoolCeiling is the pooling proof: 500 concurrent calls
// through one binding with max_connections 10 never hold more than 10
// server connections, and none fails.
func TestPostgresPoolCeiling(t *testing.T) {
	const calls, ceiling = 500, 10
	s := newSQLEnv(t, postgresCase, ceiling)
	appName := s.db // postgresCase sets application_name to the schema name

	ctx := context.Background()
	sampler, err := pgx.Connect(ctx, pgURL(t, nil))
	require.NoError(t, err)
	defer sampler.Close(ctx)

	stop := make(chan struct{})
	var maxSeen, samples atomic.Int64
	samplerDone := make(chan error, 1)
	go func() {
		for {
			var n int64
			err := sampler.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", appName).Scan(&n)
			if err != nil {
				samplerDone <- err
				return
			}
			samples.Add(1)
			for {
				m := maxSeen.Load()
				if n <= m || maxSeen.CompareAndSwap(m, n) {
					break
				}
			}
			select {
			case <-stop:
				samplerDone <- nil
				return
			default:
			}
		}
	}()

	var wg sync.WaitGroup
	var failures atomic.Int64
	var firstErr atomic.Value
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(s.ctx(fmt.Sprintf("inv-%d", i)), time.Minute)
			defer cancel()
			resp, err := s.b.SQL(cctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db",
				SQL: "SELECT $1::int AS n FROM pg_sleep(0.005)", Args: []wire.SQLValue{wire.Int(int64(i))}})
			switch {
			case err != nil:
				firstErr.CompareAndSwap(nil, err.Error())
				failures.Add(1)
			case resp.Error != nil:
				firstErr.CompareAndSwap(nil, resp.Error.Error())
				failures.Add(1)
			case len(resp.Rows) != 1 || resp.Rows[0][0].Int != int64(i):
				firstErr.CompareAndSwap(nil, fmt.Sprintf("call %d got %v", i, resp.Rows))
				failures.Add(1)
			}
		}()
	}
	wg.Wait()
	close(stop)
	require.NoError(t, <-samplerDone)

	t.Logf("%d calls, %d samples of pg_stat_activity, at most %d connections", calls, samples.Load(), maxSeen.Load())
	require.Zero(t, failures.Load(), "first error: %v", firstErr.Load())
	require.LessOrEqual(t, maxSeen.Load(), int64(ceiling))
	require.Positive(t, maxSeen.Load(), "the sampler saw the pool's connections")
}

// TestPostgresURLSecret resolves ${secret:NAME} in the URL at connect
// time.
func TestPostgresURLSecret(t *testing.T) {
	url := pgURL(t, nil)
	if !strings.HasPrefix(url, "postgres://postgres@") {
		t.Skip("STRATA_TEST_POSTGRES does not start with postgres://postgres@")
	}
	f := setup(t)
	ctx := context.Background()
	require.NoError(t, f.b.SecretSet(ctx, testProject, "PGUSER", []byte("postgres")))
	f.st.addDatabase(record.DatabaseConfig{Name: "withsecret", Project: testProject, Engine: record.EnginePostgres, MaxConnections: 1,
		URL: strings.Replace(url, "postgres://postgres@", "postgres://${secret:PGUSER}@", 1)})
	resp, err := f.b.Query(ctx, "withsecret", "SELECT current_user::text", nil)
	require.NoError(t, err)
	require.Nil(t, resp.Error)
	require.Equal(t, wire.Text("postgres"), resp.Rows[0][0])

	f.st.addDatabase(record.DatabaseConfig{Name: "nosecret", Project: testProject, Engine: record.EnginePostgres,
		URL: strings.Replace(url, "postgres://postgres@", "postgres://${secret:NOPE}@", 1)})
	_, err = f.b.Query(ctx, "nosecret", "SELECT 1", nil)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Contains(t, err.Error(), "NOPE")
}

func TestPostgresOddTypes(t *testing.T) {
	s := newSQLEnv(t, postgresCase, 2)
	resp := s.must(t, s.ctx("i"), query(`SELECT 1.50::numeric AS n, '6f1c1e9a-5d4c-4b8e-9a1e-2f3b4c5d6e7f'::uuid AS u,
		'{"a":1}'::jsonb AS j, ARRAY[1,2] AS a, 'NaN'::float8 AS nan, 2::int2 AS small`))
	require.Equal(t, []wire.SQLValue{
		wire.Text("1.50"), wire.Text("6f1c1e9a-5d4c-4b8e-9a1e-2f3b4c5d6e7f"), wire.Text(`{"a":1}`),
		wire.Text("[1,2]"), wire.Float(wireNaN()), wire.Int(2),
	}, resp.Rows[0])
}
