package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
	"github.com/stratahq/strata/internal/store/sqlstore"
	"github.com/stratahq/strata/internal/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

func migrationCount(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.r.QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n))
	return n
}

func TestReopenKeepsDataAndAppliesNothingNew(t *testing.T) {
	ctx := context.Background()
	// The parent directories do not exist yet: Open creates them.
	path := filepath.Join(t.TempDir(), "nested", "dir", "strata.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.NotEmpty(t, ms)
	require.Equal(t, len(ms), migrationCount(t, s))

	data := []byte("module")
	require.NoError(t, s.BlobPut(ctx, storetest.Digest(data), data))
	_, err = s.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "p",
		NewVersions: []store.NewVersionParams{{Function: "f", ModuleSHA256: storetest.Digest(data), Config: record.FunctionConfig{Kind: record.KindReactor}}},
		Routes:      []record.Route{{Method: "GET", Path: "/f", Function: "f"}},
	})
	require.NoError(t, err)
	lines := []record.LogLine{{InvocationID: "i", Function: "f", Version: 1, Time: time.Now(), Stream: "stdout", Line: "hi"}}
	require.NoError(t, s.LogInsert(ctx, lines))
	require.NoError(t, s.Close())

	s, err = Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, len(ms), migrationCount(t, s), "re-opening applies nothing new")
	got, err := s.BlobGet(ctx, storetest.Digest(data))
	require.NoError(t, err)
	require.Equal(t, data, got)
	f, err := s.FunctionGet(ctx, "f")
	require.NoError(t, err)
	require.Equal(t, 1, f.ActiveVersion)
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Len(t, routes, 1)
	more := []record.LogLine{{InvocationID: "i", Function: "f", Version: 1, Time: time.Now(), Stream: "stdout", Line: "again"}}
	require.NoError(t, s.LogInsert(ctx, more))
	require.Greater(t, more[0].ID, lines[0].ID)
}

func TestTwoHandlesOnOneFile(t *testing.T) {
	// Two Opens of one file stand for two processes: both migrate at once
	// and then write concurrently, relying on BEGIN IMMEDIATE and
	// busy_timeout rather than on the in-process single writer.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	stores := make([]*Store, 2)
	errs := make([]error, 2)
	done := make(chan int)
	for i := range stores {
		go func() {
			stores[i], errs[i] = Open(ctx, path)
			done <- i
		}()
	}
	<-done
	<-done
	for i := range stores {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	ms, err := loadMigrations()
	require.NoError(t, err)
	require.Equal(t, len(ms), migrationCount(t, stores[0]))

	for i := range 5 {
		for _, s := range stores {
			_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{
				Project:     "p",
				NewVersions: []store.NewVersionParams{{Function: "f", ModuleSHA256: storetest.Digest([]byte{byte(i)}), Config: record.FunctionConfig{Kind: record.KindReactor}}},
			})
			require.NoError(t, err)
		}
	}
	vs, err := stores[1].VersionList(ctx, "f")
	require.NoError(t, err)
	require.Len(t, vs, 10)
	require.Equal(t, 10, vs[0].Number)
}

func TestOpenRejectsQuestionMark(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "a?b.db"))
	require.Error(t, err)
}

var _ storetest.ClockSetter = (*Store)(nil)

func TestMigration0002KeepsOldRoutes(t *testing.T) {
	// A file as 0001 left it, with a route, is brought up to date: the
	// route reads back synchronous and unlimited.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := loadMigrations()
	require.NoError(t, err)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`,
		ms[0].SQL,
		`INSERT INTO schema_migrations VALUES (1, '` + ms[0].Name + `', 0)`,
		`INSERT INTO functions VALUES ('f', 'p', 1, 0, 0)`,
		`INSERT INTO routes (method, path, project, function) VALUES ('GET', '/f', 'p', 'f')`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	require.NoError(t, db.Close())
	s, err := Open(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	routes, err := s.RouteList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.Route{{Project: "p", Method: "GET", Path: "/f", Function: "f"}}, routes)
}

// twoHandles opens one file twice, standing for two processes sharing it.
func twoHandles(t *testing.T) []store.Store {
	path := filepath.Join(t.TempDir(), "shared.db")
	var stores []store.Store
	for range 2 {
		s, err := Open(context.Background(), path)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	return stores
}

func TestScheduleFireRaceTwoHandles(t *testing.T) { storetest.ScheduleFireRace(t, twoHandles(t)) }
func TestReceiveRaceTwoHandles(t *testing.T)      { storetest.ReceiveRace(t, twoHandles(t)) }
func TestFlowClaimRaceTwoHandles(t *testing.T)    { storetest.FlowClaimRace(t, twoHandles(t)) }
func TestFlowSendReleaseRaceTwoHandles(t *testing.T) {
	storetest.FlowSendReleaseRace(t, twoHandles(t))
}

func TestKVDeleteExpiredInBatches(t *testing.T) {
	// More expired entries than one housekeeping transaction takes: all go,
	// and the count is their sum; live entries stay.
	ctx := context.Background()
	s := openTemp(t)
	_, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "p",
		Bindings: &store.BindingsApplyParams{KV: []record.KVNamespace{{Name: "kv"}}}})
	require.NoError(t, err)
	expired := 2*expiredBatch + 3
	_, err = s.exec(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO kv_entries (namespace, key, value, expires_at, updated_at)
		SELECT 'kv', 'k' || i, x'00', CASE WHEN i <= ? THEN 1 ELSE NULL END, 0 FROM n`, expired+10, expired)
	require.NoError(t, err)
	n, err := s.KVDeleteExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, expired, n)
	es, err := s.KVList(ctx, store.KVListParams{Namespace: "kv"})
	require.NoError(t, err)
	require.Len(t, es, 10)
}

func TestMigration0008SecretsPerProject(t *testing.T) {
	// A file from before secrets were per project: each legacy secret is
	// copied to the projects that use it (a function lists it, or a
	// database URL references it), one nobody uses stays in the legacy
	// namespace, and existing tokens stay admin tokens.
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	ms, err := loadMigrations()
	require.NoError(t, err)
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	qs := []string{`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`}
	for _, m := range ms {
		if m.Version >= 8 {
			break
		}
		qs = append(qs, m.SQL, fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, '%s', 0)`, m.Version, m.Name))
	}
	qs = append(qs,
		`INSERT INTO functions VALUES ('api', 'shop', 1, 0, 0)`,
		`INSERT INTO functions VALUES ('web', 'blog', 1, 0, 0)`,
		`INSERT INTO versions VALUES ('api', 1, 'x', '{"kind":"reactor","secrets":["STRIPE_KEY","SHARED"]}', 0)`,
		`INSERT INTO versions VALUES ('web', 1, 'x', '{"kind":"reactor","secrets":["SHARED"]}', 0)`,
		`INSERT INTO databases VALUES ('main', 'data', 'postgres', 'postgres://app:${secret:DB_PASSWORD}@db/app', 10)`,
		`INSERT INTO secrets VALUES ('STRIPE_KEY', x'01', 0)`,
		`INSERT INTO secrets VALUES ('SHARED', x'02', 0)`,
		`INSERT INTO secrets VALUES ('DB_PASSWORD', x'03', 0)`,
		`INSERT INTO secrets VALUES ('UNUSED', x'04', 0)`,
		`INSERT INTO tokens VALUES ('`+storetest.Digest([]byte("old"))+`', 'admin', 0)`,
	)
	for _, q := range qs {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	require.NoError(t, db.Close())
	s, err := Open(ctx, path)
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

// TestOpenRefusesNewerSchema: a store a newer Strata migrated (here, a
// migration recorded past this binary's newest) is refused with a clear
// error instead of being read by code that does not know its schema.
func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "strata.db")
	s, err := Open(ctx, path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, '9999_future.sql', 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = Open(ctx, path)
	var ahead *sqlstore.SchemaAheadError
	require.ErrorAs(t, err, &ahead)
	require.Equal(t, 9999, ahead.Store)
	require.Contains(t, err.Error(), "9999_future.sql")
	require.Contains(t, err.Error(), "newer than this binary's")
}
