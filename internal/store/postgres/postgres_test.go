package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlstore"
	"github.com/stratahq/strata/internal/store/storetest"
)

const envURL = "STRATA_TEST_POSTGRES"

// testURL returns the test database URL or skips the test.
func testURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(envURL)
	if url == "" {
		t.Skip("PostgreSQL tests skipped: set " + envURL + " (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	return url
}

// freshSchema names a new schema for one test and drops it, with everything
// in it, when the test ends. Tests in this and other packages share the
// database; schemas keep them apart.
func freshSchema(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "strata_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openFresh opens a store in a new schema, closed before the schema drops.
func openFresh(t testing.TB) *Store {
	t.Helper()
	url := testURL(t)
	s, err := OpenWithSchema(context.Background(), url, freshSchema(t, url))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
}

func migrationCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.pool.QueryRow(context.Background(), `SELECT count(*) FROM schema_migrations`).Scan(&n))
	return n
}

func TestMigrationsRunOnceWhenNodesStartTogether(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	ms, err := loadMigrations()
	require.NoError(t, err)

	// Four nodes start at once on an empty schema: the advisory lock makes
	// them take turns, so none fails on half-created tables.
	const nodes = 4
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = OpenWithSchema(ctx, url, schema) })
	}
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	require.Equal(t, len(ms), migrationCount(t, stores[0]))

	// Data written through one node is seen through another, and opening
	// again applies nothing new.
	data := []byte("module")
	require.NoError(t, stores[0].BlobPut(ctx, storetest.Digest(data), data))
	again, err := OpenWithSchema(ctx, url, schema)
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, len(ms), migrationCount(t, again))
	got, err := again.BlobGet(ctx, storetest.Digest(data))
	require.NoError(t, err)
	require.Equal(t, data, got)
}

func TestSchemasAreIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := openFresh(t), openFresh(t)
	require.NoError(t, a.TokenPut(ctx, record.Token{Hash: storetest.Digest([]byte("t")), Name: "admin"}))
	n, err := b.TokenCount(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = a.TokenCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

func TestOpenUsesSearchPathSchema(t *testing.T) {
	// Open without a schema migrates whatever the connection's search_path
	// names; here a fresh schema set through the URL's options.
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	pre, err := OpenWithSchema(ctx, url, schema) // creates the schema
	require.NoError(t, err)
	pre.Close()
	u, err := neturl.Parse(url)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema) // pgx passes unknown parameters on as run-time settings
	u.RawQuery = q.Encode()
	s, err := Open(ctx, u.String())
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, schema, s.Schema())
}

func TestOpenRejectsBadSchemaNames(t *testing.T) {
	for _, name := range []string{"Upper", "semi;colon", "1digit", "has space", `quo"te`} {
		_, err := OpenWithSchema(context.Background(), "postgres://127.0.0.1:1/none", name)
		require.Error(t, err, name)
	}
}

func TestBatchHoldsLockUntilCommit(t *testing.T) {
	// LogInsert relies on a pipelined batch running as one implicit
	// transaction, so that pg_advisory_xact_lock taken by its first
	// statement is still held by its last. Check that directly.
	s := openFresh(t)
	ctx := context.Background()
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, s.lockKey("probe"))
	b.Queue(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted`)
	br := s.pool.SendBatch(ctx, b)
	_, err := br.Exec()
	require.NoError(t, err)
	var held int
	require.NoError(t, br.QueryRow().Scan(&held))
	require.NoError(t, br.Close())
	require.Equal(t, 1, held)
	var after int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`).Scan(&after))
	require.Zero(t, after, "released at the batch's commit (this may be another pooled connection, which holds none either)")
}

func TestScheduleFireRaceTwoNodes(t *testing.T) {
	// Two handles on one schema stand for two nodes: each fire is won by
	// exactly one of them, with exactly one message.
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	var stores []store.Store
	for range 2 {
		s, err := OpenWithSchema(ctx, url, schema)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	storetest.ScheduleFireRace(t, stores)
}

func TestReceiveTwoNodes(t *testing.T) {
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	var stores []store.Store
	for range 2 {
		s, err := OpenWithSchema(ctx, url, schema)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	storetest.ReceiveRace(t, stores)
}

// twoNodes opens two handles on one fresh schema, standing for two nodes.
func twoNodes(t *testing.T) []store.Store {
	url := testURL(t)
	schema := freshSchema(t, url)
	var stores []store.Store
	for range 2 {
		s, err := OpenWithSchema(context.Background(), url, schema)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	return stores
}

func TestFlowClaimRaceTwoNodes(t *testing.T)       { storetest.FlowClaimRace(t, twoNodes(t)) }
func TestFlowSendReleaseRaceTwoNodes(t *testing.T) { storetest.FlowSendReleaseRace(t, twoNodes(t)) }

var _ storetest.ClockSetter = (*Store)(nil)

func TestMigration0002KeepsOldRoutes(t *testing.T) {
	// A schema as 0001 left it, with a route, is brought up to date: the
	// route reads back synchronous and unlimited.
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	ms, err := loadMigrations()
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE SCHEMA ` + schema,
		`SET search_path = ` + schema,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
		ms[0].SQL,
		`INSERT INTO schema_migrations VALUES (1, '` + ms[0].Name + `', now())`,
		`INSERT INTO functions VALUES ('f', 'p', 1, now(), now())`,
		`INSERT INTO routes (method, path, project, function) VALUES ('GET', '/f', 'p', 'f')`,
	} {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err)
	}
	s, err := OpenWithSchema(ctx, url, schema)
	require.NoError(t, err)
	defer s.Close()
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{{Project: "p", Method: "GET", Path: "/f", Function: "f"}}, routes)
}

func TestKVDeleteExpiredInBatches(t *testing.T) {
	// More expired entries than one housekeeping statement takes: all go,
	// and the count is their sum; live entries stay.
	ctx := context.Background()
	s := openFresh(t)
	_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "p",
		Bindings: &store.BindingsApplyParams{KV: []record.KVNamespace{{Name: "kv"}}}})
	require.NoError(t, err)
	expired := 2*expiredBatch + 3
	_, err = s.pool.Exec(ctx, `INSERT INTO kv_entries (namespace, key, value, expires_at, updated_at)
		SELECT 'kv', 'k' || i, '\x00', CASE WHEN i <= $2 THEN timestamptz '2000-01-01' END, now()
		FROM generate_series(1, $1::int) i`, expired+10, expired)
	require.NoError(t, err)
	n, err := s.KVDeleteExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, expired, n)
	es, err := s.KVList(ctx, store.KVListParams{Namespace: "kv"})
	require.NoError(t, err)
	require.Len(t, es, 10)
}

func TestMigration0008SecretsPerProject(t *testing.T) {
	// A schema from before secrets were per project: each legacy secret is
	// copied to the projects that use it (a function lists it, or a
	// database URL references it), one nobody uses stays in the legacy
	// namespace, and existing tokens stay admin tokens.
	url := testURL(t)
	schema := freshSchema(t, url)
	ctx := context.Background()
	ms, err := loadMigrations()
	require.NoError(t, err)
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	qs := []string{
		`CREATE SCHEMA ` + schema,
		`SET search_path = ` + schema,
		`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`,
	}
	for _, m := range ms {
		if m.Version >= 8 {
			break
		}
		qs = append(qs, m.SQL, fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', now())`, m.Version, m.Name))
	}
	qs = append(qs,
		`INSERT INTO functions VALUES ('api', 'shop', 1, now(), now())`,
		`INSERT INTO functions VALUES ('web', 'blog', 1, now(), now())`,
		`INSERT INTO versions VALUES ('api', 1, 'x', '{"kind":"reactor","secrets":["STRIPE_KEY","SHARED"]}', now())`,
		`INSERT INTO versions VALUES ('web', 1, 'x', '{"kind":"reactor","secrets":["SHARED"]}', now())`,
		`INSERT INTO databases VALUES ('main', 'data', 'postgres', 'postgres://app:${secret:DB_PASSWORD}@db/app', 10)`,
		`INSERT INTO secrets VALUES ('STRIPE_KEY', '\x01', now())`,
		`INSERT INTO secrets VALUES ('SHARED', '\x02', now())`,
		`INSERT INTO secrets VALUES ('DB_PASSWORD', '\x03', now())`,
		`INSERT INTO secrets VALUES ('UNUSED', '\x04', now())`,
		`INSERT INTO tokens VALUES ('`+storetest.Digest([]byte("old"))+`', 'admin', now())`,
	)
	for _, q := range qs {
		_, err := conn.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	s, err := OpenWithSchema(ctx, url, schema)
	require.NoError(t, err)
	defer s.Close()
	ss, err := s.SecretList(ctx)
	require.NoError(t, err)
	var got []string
	for _, si := range ss {
		got = append(got, si.Project+"/"+si.Name)
	}
	require.Equal(t, []string{"/UNUSED", "blog/SHARED", "data/DB_PASSWORD", "shop/SHARED", "shop/STRIPE_KEY"}, got)
	ct, err := s.SecretGet(ctx, "blog", "SHARED")
	require.NoError(t, err)
	require.Equal(t, []byte{2}, ct)
	_, err = s.SecretGet(ctx, "blog", "STRIPE_KEY")
	require.ErrorIs(t, err, store.ErrNotFound, "blog never used shop's secret, so it cannot read it now")
	tok, err := s.TokenGet(ctx, storetest.Digest([]byte("old")))
	require.NoError(t, err)
	require.Empty(t, tok.Project, "tokens from before are admin tokens")
}

// TestOpenRefusesNewerSchema: a schema a newer Strata migrated is refused
// with a clear error, so an old binary never joins a cluster it would
// misread.
func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	schema := freshSchema(t, url)
	s, err := OpenWithSchema(ctx, url, schema)
	require.NoError(t, err)
	s.Close()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `INSERT INTO `+schema+`.schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', now())`)
	require.NoError(t, err)

	_, err = OpenWithSchema(ctx, url, schema)
	var ahead *sqlstore.SchemaAheadError
	require.ErrorAs(t, err, &ahead)
	require.Equal(t, 9999, ahead.Store)
	require.Contains(t, err.Error(), "newer than this binary's")
}

// TestStalledTransactionIsEnded: a store connection left idle inside a
// transaction (its node stalled) is ended by PostgreSQL after the
// configured bound, releasing its row locks for the other nodes; a URL
// setting wins over the option.
func TestStalledTransactionIsEnded(t *testing.T) {
	ctx := context.Background()
	url := testURL(t)
	s, err := OpenWithSchema(ctx, url, freshSchema(t, url), WithIdleInTransactionTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer s.Close()
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT 1`)
	require.NoError(t, err)
	time.Sleep(time.Second)
	_, err = tx.Exec(ctx, `SELECT 1`)
	require.Error(t, err, "the idle transaction's session was ended")
	_ = tx.Rollback(ctx)

	u, err := neturl.Parse(url)
	require.NoError(t, err)
	q := u.Query()
	q.Set("idle_in_transaction_session_timeout", "0")
	u.RawQuery = q.Encode()
	s2, err := OpenWithSchema(ctx, u.String(), freshSchema(t, url), WithIdleInTransactionTimeout(200*time.Millisecond))
	require.NoError(t, err)
	defer s2.Close()
	var v string
	require.NoError(t, s2.pool.QueryRow(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&v))
	require.Equal(t, "0", v, "the URL's setting wins")
}
