package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// bindingsTests are the conformance tests of store.Bindings, run by Run.
var bindingsTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"BindingsDeployAndList", testBindingsDeploy},
	{"BindingsDeployValidates", testBindingsValidate},
	{"BindingsDeployConflicts", testBindingsConflicts},
	{"BindingsDeployKeepsAndDropsEntries", testBindingsKeepsEntries},
	{"BindingsFunctionConfigRoundTrips", testBindingsFunctionConfig},
	{"KVPutGetDelete", testKVPutGetDelete},
	{"KVUnknownNamespace", testKVUnknownNamespace},
	{"KVKeyAndValueLimits", testKVLimits},
	{"KVExpiry", testKVExpiry},
	{"KVList", testKVList},
	{"KVListPrefixBounds", testKVListPrefixBounds},
	{"KVListDefaultLimit", testKVListDefaultLimit},
	{"KVReadAfterWrite", testKVReadAfterWrite},
	{"Secrets", testSecrets},
	{"SecretsPerProject", testSecretsPerProject},
}

// deployBindings deploys project with one function "<project>-fn" and b.
func deployBindings(t testing.TB, s store.Store, project string, b store.BindingsApplyParams) {
	t.Helper()
	_, err := applyBindings(s, project, b)
	require.NoError(t, err)
}

func applyBindings(s store.Store, project string, b store.BindingsApplyParams) (*store.DeploymentApplyResult, error) {
	fn := project + "-fn"
	return s.DeploymentApply(context.Background(), store.DeploymentApplyParams{
		Project:     project,
		NewVersions: []store.NewVersionParams{{Function: fn, ModuleSHA256: module(fn), Config: cfg(record.KindReactor)}},
		Bindings:    &b,
	})
}

func kvNamespaces(names ...string) []record.KVNamespace {
	out := make([]record.KVNamespace, len(names))
	for i, n := range names {
		out[i] = record.KVNamespace{Name: n}
	}
	return out
}

func put(t testing.TB, s store.Store, ns, key, value string, ttl time.Duration) {
	t.Helper()
	require.NoError(t, s.KVPut(context.Background(), ns, key, []byte(value), ttl))
}

func keys(es []record.KVEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func listKeys(t *testing.T, s store.Store, p store.KVListParams) []string {
	t.Helper()
	es, err := s.KVList(context.Background(), p)
	require.NoError(t, err)
	return keys(es)
}

func testBindingsDeploy(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployBindings(t, s, "shop", store.BindingsApplyParams{
		Databases: []record.DatabaseConfig{
			{Name: "orders", Project: "ignored", Engine: record.EngineSQLite},
			{Name: "analytics", Engine: record.EnginePostgres, URL: "postgres://app:${secret:DB_PASSWORD}@db:5432/analytics", MaxConnections: 50},
		},
		KV: []record.KVNamespace{{Name: "sessions", Project: "ignored"}, {Name: "cache"}},
	})
	dbs, err := s.DatabaseList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.DatabaseConfig{
		{Name: "analytics", Project: "shop", Engine: record.EnginePostgres, URL: "postgres://app:${secret:DB_PASSWORD}@db:5432/analytics", MaxConnections: 50},
		{Name: "orders", Project: "shop", Engine: record.EngineSQLite, MaxConnections: store.DefaultMaxConnections},
	}, dbs, "sorted by name, Project from the deploy, MaxConnections 0 stored as the default, URL kept unresolved")
	d, err := s.DatabaseGet(ctx, "orders")
	require.NoError(t, err)
	require.Equal(t, dbs[1], *d)
	_, err = s.DatabaseGet(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
	ns, err := s.KVNamespaceList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.KVNamespace{{Name: "cache", Project: "shop"}, {Name: "sessions", Project: "shop"}}, ns)

	// Another project's bindings live alongside.
	deployBindings(t, s, "blog", store.BindingsApplyParams{KV: kvNamespaces("posts")})

	// A redeploy changes a database, drops one, keeps a namespace and
	// drops the other; blog is untouched.
	deployBindings(t, s, "shop", store.BindingsApplyParams{
		Databases: []record.DatabaseConfig{{Name: "orders", Engine: record.EnginePostgres, URL: "postgres://db/orders", MaxConnections: 1}},
		KV:        kvNamespaces("cache"),
	})
	dbs, err = s.DatabaseList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.DatabaseConfig{
		{Name: "orders", Project: "shop", Engine: record.EnginePostgres, URL: "postgres://db/orders", MaxConnections: 1},
	}, dbs)
	_, err = s.DatabaseGet(ctx, "analytics")
	require.ErrorIs(t, err, store.ErrNotFound)
	ns, err = s.KVNamespaceList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.KVNamespace{{Name: "cache", Project: "shop"}, {Name: "posts", Project: "blog"}}, ns)

	// Bindings == nil leaves them alone; an empty set removes them all.
	_, err = s.DeploymentApply(ctx, store.DeploymentApplyParams{Project: "shop"})
	require.NoError(t, err)
	dbs, err = s.DatabaseList(ctx)
	require.NoError(t, err)
	require.Len(t, dbs, 1)
	deployBindings(t, s, "shop", store.BindingsApplyParams{})
	dbs, err = s.DatabaseList(ctx)
	require.NoError(t, err)
	require.Empty(t, dbs)
	ns, err = s.KVNamespaceList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.KVNamespace{{Name: "posts", Project: "blog"}}, ns)
}

func testBindingsValidate(t *testing.T, s store.Store) {
	ctx := context.Background()
	sqliteDB := func(name string) record.DatabaseConfig {
		return record.DatabaseConfig{Name: name, Engine: record.EngineSQLite}
	}
	withMax := func(n int) record.DatabaseConfig { d := sqliteDB("db"); d.MaxConnections = n; return d }
	tests := []struct {
		name     string
		b        store.BindingsApplyParams
		conflict bool
	}{
		{"postgres without url", store.BindingsApplyParams{Databases: []record.DatabaseConfig{{Name: "db", Engine: record.EnginePostgres}}}, false},
		{"sqlite with url", store.BindingsApplyParams{Databases: []record.DatabaseConfig{{Name: "db", Engine: record.EngineSQLite, URL: "file:x.db"}}}, false},
		{"unknown engine", store.BindingsApplyParams{Databases: []record.DatabaseConfig{{Name: "db", Engine: "mysql", URL: "mysql://x"}}}, false},
		{"no engine", store.BindingsApplyParams{Databases: []record.DatabaseConfig{{Name: "db"}}}, false},
		{"negative max connections", store.BindingsApplyParams{Databases: []record.DatabaseConfig{withMax(-1)}}, false},
		{"max connections over 1000", store.BindingsApplyParams{Databases: []record.DatabaseConfig{withMax(1001)}}, false},
		{"database without name", store.BindingsApplyParams{Databases: []record.DatabaseConfig{sqliteDB("")}}, false},
		{"namespace without name", store.BindingsApplyParams{KV: kvNamespaces("")}, false},
		{"database listed twice", store.BindingsApplyParams{Databases: []record.DatabaseConfig{sqliteDB("db"), sqliteDB("db")}}, true},
		{"namespace listed twice", store.BindingsApplyParams{KV: kvNamespaces("kv", "kv")}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every case also carries a valid namespace, which must not
			// be written either.
			b := tt.b
			b.KV = append(b.KV, record.KVNamespace{Name: "valid"})
			_, err := applyBindings(s, "p", b)
			require.Error(t, err)
			if tt.conflict {
				require.ErrorIs(t, err, store.ErrConflict)
			}
			_, err = s.FunctionGet(ctx, "p-fn")
			require.ErrorIs(t, err, store.ErrNotFound, "nothing of a refused deploy is written")
			ns, err := s.KVNamespaceList(ctx)
			require.NoError(t, err)
			require.Empty(t, ns)
			dbs, err := s.DatabaseList(ctx)
			require.NoError(t, err)
			require.Empty(t, dbs)
		})
	}
	// The bounds themselves are accepted.
	deployBindings(t, s, "p", store.BindingsApplyParams{Databases: []record.DatabaseConfig{
		{Name: "one", Engine: record.EngineSQLite, MaxConnections: 1},
		{Name: "many", Engine: record.EngineSQLite, MaxConnections: store.MaxMaxConnections},
	}})
	d, err := s.DatabaseGet(ctx, "many")
	require.NoError(t, err)
	require.Equal(t, 1000, d.MaxConnections)
}

func testBindingsConflicts(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployBindings(t, s, "a", store.BindingsApplyParams{
		Databases: []record.DatabaseConfig{{Name: "a-db", Engine: record.EngineSQLite}},
		KV:        kvNamespaces("a-kv"),
	})
	put(t, s, "a-kv", "k", "precious", 0)
	bDB := record.DatabaseConfig{Name: "b-db", Engine: record.EngineSQLite}
	tests := []struct {
		name string
		b    store.BindingsApplyParams
	}{
		{"database of another project", store.BindingsApplyParams{
			Databases: []record.DatabaseConfig{bDB, {Name: "a-db", Engine: record.EnginePostgres, URL: "postgres://evil/db"}},
			KV:        kvNamespaces("b-kv"),
		}},
		{"namespace of another project", store.BindingsApplyParams{
			Databases: []record.DatabaseConfig{bDB},
			KV:        kvNamespaces("b-kv", "a-kv"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := applyBindings(s, "b", tt.b)
			require.ErrorIs(t, err, store.ErrConflict)

			// Nothing of b's was written and a's are as they were.
			_, err = s.FunctionGet(ctx, "b-fn")
			require.ErrorIs(t, err, store.ErrNotFound)
			dbs, err := s.DatabaseList(ctx)
			require.NoError(t, err)
			require.Equal(t, []record.DatabaseConfig{{Name: "a-db", Project: "a", Engine: record.EngineSQLite, MaxConnections: 10}}, dbs)
			ns, err := s.KVNamespaceList(ctx)
			require.NoError(t, err)
			require.Equal(t, []record.KVNamespace{{Name: "a-kv", Project: "a"}}, ns)
			e, err := s.KVGet(ctx, "a-kv", "k")
			require.NoError(t, err)
			require.Equal(t, "precious", string(e.Value))
		})
	}
}

func testBindingsKeepsEntries(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("keep", "drop")})
	put(t, s, "keep", "k1", "v1", 0)
	put(t, s, "keep", "k2", "v2", time.Hour)
	put(t, s, "drop", "d1", "x", 0)

	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("keep")})
	es, err := s.KVList(ctx, store.KVListParams{Namespace: "keep"})
	require.NoError(t, err)
	require.Equal(t, []string{"k1", "k2"}, keys(es))
	require.Equal(t, "v2", string(es[1].Value))
	require.False(t, es[1].ExpiresAt.IsZero(), "a redeploy keeps expiry times")
	_, err = s.KVGet(ctx, "drop", "d1")
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorIs(t, s.KVPut(ctx, "drop", "d2", []byte("x"), 0), store.ErrNotFound, "a removed namespace takes no puts")

	// Declared again, the namespace starts empty: its entries went with it.
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("keep", "drop")})
	es, err = s.KVList(ctx, store.KVListParams{Namespace: "drop"})
	require.NoError(t, err)
	require.Empty(t, es)
	_, err = s.KVGet(ctx, "drop", "d1")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func testBindingsFunctionConfig(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := cfg(record.KindReactor)
	c.Bindings = []record.Binding{
		{Name: "db", Kind: record.BindingSQL, Resource: "orders"},
		{Name: "cache", Kind: record.BindingKV, Resource: "sessions"},
	}
	c.Secrets = []string{"STRIPE_KEY", "DB_PASSWORD"}
	c.Fetch = []string{"api.stripe.com", "*.example.org", "localhost:8080"}
	c.FetchPrivate = true
	res, err := s.DeploymentApply(ctx, store.DeploymentApplyParams{
		Project:     "shop",
		NewVersions: []store.NewVersionParams{{Function: "pay", ModuleSHA256: module("pay"), Config: c}},
		Bindings: &store.BindingsApplyParams{
			Databases: []record.DatabaseConfig{{Name: "orders", Engine: record.EngineSQLite}},
			KV:        kvNamespaces("sessions"),
		},
	})
	require.NoError(t, err)
	require.Equal(t, c, res.Versions[0].Config)
	v, err := s.VersionGet(ctx, "pay", 1)
	require.NoError(t, err)
	require.Equal(t, c, v.Config, "bindings, secrets and the fetch allow-list are versioned config")
	vs, err := s.VersionList(ctx, "pay")
	require.NoError(t, err)
	require.Equal(t, c, vs[0].Config)

	// A version without them reads back without them (not empty slices).
	plain := cfg(record.KindReactor)
	deploy(t, s, store.DeploymentApplyParams{
		Project:     "shop",
		NewVersions: []store.NewVersionParams{{Function: "pay", ModuleSHA256: module("pay"), Config: plain}},
	})
	v, err = s.VersionGet(ctx, "pay", 2)
	require.NoError(t, err)
	require.Equal(t, plain, v.Config)
	v, err = s.VersionGet(ctx, "pay", 1)
	require.NoError(t, err)
	require.Equal(t, c, v.Config, "older versions keep theirs")
}

func testKVPutGetDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	clk := fakeClock(t, s)
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("a", "b")})

	binary := []byte{0, 1, 2, 0xff, 0xfe, 0, 'x'}
	require.NoError(t, s.KVPut(ctx, "a", "bin", binary, 0))
	e, err := s.KVGet(ctx, "a", "bin")
	require.NoError(t, err)
	require.Equal(t, record.KVEntry{Key: "bin", Value: binary, UpdatedAt: t0}, *e, "bytes as given, no expiry, updated now")

	// Overwrite: new value and update time.
	clk.Advance(time.Second)
	put(t, s, "a", "bin", "second", 0)
	e, err = s.KVGet(ctx, "a", "bin")
	require.NoError(t, err)
	require.Equal(t, "second", string(e.Value))
	require.Equal(t, t0.Add(time.Second), e.UpdatedAt)

	// Empty values are values.
	require.NoError(t, s.KVPut(ctx, "a", "empty", nil, 0))
	e, err = s.KVGet(ctx, "a", "empty")
	require.NoError(t, err)
	require.NotNil(t, e.Value)
	require.Empty(t, e.Value)

	// Namespaces are separate; keys are case-sensitive Unicode.
	put(t, s, "b", "bin", "in b", 0)
	put(t, s, "a", "Ключ/é/🔑", "unicode", 0)
	e, err = s.KVGet(ctx, "a", "bin")
	require.NoError(t, err)
	require.Equal(t, "second", string(e.Value))
	e, err = s.KVGet(ctx, "b", "bin")
	require.NoError(t, err)
	require.Equal(t, "in b", string(e.Value))
	e, err = s.KVGet(ctx, "a", "Ключ/é/🔑")
	require.NoError(t, err)
	require.Equal(t, "unicode", string(e.Value))
	_, err = s.KVGet(ctx, "a", "BIN")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Delete reports whether the key was there.
	ok, err := s.KVDelete(ctx, "a", "bin")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.KVDelete(ctx, "a", "bin")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.KVGet(ctx, "a", "bin")
	require.ErrorIs(t, err, store.ErrNotFound)
	e, err = s.KVGet(ctx, "b", "bin")
	require.NoError(t, err, "deleting in one namespace leaves the other's key")
	require.Equal(t, "in b", string(e.Value))
}

func testKVUnknownNamespace(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("real")})
	require.ErrorIs(t, s.KVPut(ctx, "ghost", "k", []byte("v"), 0), store.ErrNotFound)
	_, err := s.KVGet(ctx, "ghost", "k")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.KVDelete(ctx, "ghost", "k")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.KVList(ctx, store.KVListParams{Namespace: "ghost"})
	require.ErrorIs(t, err, store.ErrNotFound)

	// An existing, empty namespace is not an error: nothing in it.
	_, err = s.KVGet(ctx, "real", "k")
	require.ErrorIs(t, err, store.ErrNotFound)
	ok, err := s.KVDelete(ctx, "real", "k")
	require.NoError(t, err)
	require.False(t, ok)
	es, err := s.KVList(ctx, store.KVListParams{Namespace: "real"})
	require.NoError(t, err)
	require.Empty(t, es)
}

func testKVLimits(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("kv")})

	// Keys: 1..512 bytes of UTF-8, counted in bytes.
	longest := strings.Repeat("é", store.KVMaxKeyBytes/2) // 512 bytes, 256 runes
	put(t, s, "kv", longest, "ok", 0)
	e, err := s.KVGet(ctx, "kv", longest)
	require.NoError(t, err)
	require.Equal(t, longest, e.Key)
	badKeys := map[string]string{
		"empty":        "",
		"513 bytes":    strings.Repeat("k", store.KVMaxKeyBytes+1),
		"invalid utf8": "bad\xff",
		"NUL":          "a\x00b",
	}
	for name, key := range badKeys {
		require.Error(t, s.KVPut(ctx, "kv", key, []byte("v"), 0), name)
		_, err := s.KVGet(ctx, "kv", key)
		require.Error(t, err, name)
		require.NotErrorIs(t, err, store.ErrNotFound, "%s: a bad key is not a missing one", name)
		_, err = s.KVDelete(ctx, "kv", key)
		require.Error(t, err, name)
	}
	require.ErrorIs(t, s.KVPut(ctx, "kv", badKeys["513 bytes"], []byte("v"), 0), store.ErrTooLarge)

	// Values: up to 1 MiB, exactly.
	big := bytes.Repeat([]byte{0xab, 0x00, 0x17}, store.KVMaxValueBytes/3+1)[:store.KVMaxValueBytes]
	require.NoError(t, s.KVPut(ctx, "kv", "big", big, 0))
	e, err = s.KVGet(ctx, "kv", "big")
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, e.Value), "a 1 MiB value round-trips")
	err = s.KVPut(ctx, "kv", "too-big", append(big, 1), 0)
	require.ErrorIs(t, err, store.ErrTooLarge)
	_, err = s.KVGet(ctx, "kv", "too-big")
	require.ErrorIs(t, err, store.ErrNotFound, "nothing stored")
	require.ErrorIs(t, s.KVPut(ctx, "kv", "big", append(big, 1), 0), store.ErrTooLarge)
	e, err = s.KVGet(ctx, "kv", "big")
	require.NoError(t, err)
	require.Len(t, e.Value, store.KVMaxValueBytes, "a refused overwrite keeps the old value")

	require.Error(t, s.KVPut(ctx, "kv", "neg", []byte("v"), -time.Second), "negative TTL")
}

func testKVExpiry(t *testing.T, s store.Store) {
	ctx := context.Background()
	clk := fakeClock(t, s)
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("kv")})

	put(t, s, "kv", "short", "s", 10*time.Second)
	put(t, s, "kv", "long", "l", time.Hour)
	put(t, s, "kv", "forever", "f", 0)
	e, err := s.KVGet(ctx, "kv", "short")
	require.NoError(t, err)
	require.Equal(t, t0.Add(10*time.Second), e.ExpiresAt, "TTL counts from the store's clock")

	clk.Advance(10*time.Second - time.Microsecond)
	_, err = s.KVGet(ctx, "kv", "short")
	require.NoError(t, err, "live until its expiry time")
	require.Equal(t, []string{"forever", "long", "short"}, listKeys(t, s, store.KVListParams{Namespace: "kv"}))

	clk.Advance(time.Microsecond)
	_, err = s.KVGet(ctx, "kv", "short")
	require.ErrorIs(t, err, store.ErrNotFound, "expired at its expiry time")
	require.Equal(t, []string{"forever", "long"}, listKeys(t, s, store.KVListParams{Namespace: "kv"}))
	ok, err := s.KVDelete(ctx, "kv", "short")
	require.NoError(t, err)
	require.False(t, ok, "an expired key counts as absent")

	// A put over an expired key starts afresh; a put without TTL clears
	// an expiry.
	put(t, s, "kv", "short", "again", 0)
	e, err = s.KVGet(ctx, "kv", "short")
	require.NoError(t, err)
	require.Equal(t, "again", string(e.Value))
	require.True(t, e.ExpiresAt.IsZero())
	put(t, s, "kv", "long", "l2", 0)

	// Housekeeping deletes exactly the expired entries.
	put(t, s, "kv", "e1", "x", time.Second)
	put(t, s, "kv", "e2", "x", 2*time.Second)
	put(t, s, "kv", "e3", "x", time.Minute)
	n, err := s.KVDeleteExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	clk.Advance(2 * time.Second)
	n, err = s.KVDeleteExpired(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	n, err = s.KVDeleteExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, []string{"e3", "forever", "long", "short"}, listKeys(t, s, store.KVListParams{Namespace: "kv"}))
	clk.Advance(time.Hour)
	require.Equal(t, []string{"forever", "long", "short"}, listKeys(t, s, store.KVListParams{Namespace: "kv"}),
		"entries whose TTL was cleared stay")
}

func testKVList(t *testing.T, s store.Store) {
	ctx := context.Background()
	clk := fakeClock(t, s)
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("kv", "other")})
	for _, k := range []string{"b", "app/2", "a", "app/10", "apple", "app/1", "app/é", "app/Z", "ap", "app/", "app0"} {
		put(t, s, "kv", k, "v:"+k, 0)
	}
	put(t, s, "kv", "app/expiring", "x", time.Second)
	put(t, s, "other", "app/other", "x", 0)

	// Byte order (code point order for UTF-8), whatever the locale.
	all := []string{"a", "ap", "app/", "app/1", "app/10", "app/2", "app/Z", "app/expiring", "app/é", "app0", "apple", "b"}
	require.Equal(t, all, listKeys(t, s, store.KVListParams{Namespace: "kv"}))
	es, err := s.KVList(ctx, store.KVListParams{Namespace: "kv", Prefix: "app/1"})
	require.NoError(t, err)
	require.Equal(t, []record.KVEntry{
		{Key: "app/1", Value: []byte("v:app/1"), UpdatedAt: t0},
		{Key: "app/10", Value: []byte("v:app/10"), UpdatedAt: t0},
	}, es, "entries come with values")

	clk.Advance(time.Second)
	prefixed := []string{"app/", "app/1", "app/10", "app/2", "app/Z", "app/é"}
	require.Equal(t, prefixed, listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: "app/"}), "expired keys are skipped")
	require.Empty(t, listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: "zzz"}))

	// Pages of two with After as the cursor give the same keys.
	var paged []string
	after := ""
	for range 10 {
		page := listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: "app/", After: after, Limit: 2})
		if len(page) == 0 {
			break
		}
		require.LessOrEqual(t, len(page), 2)
		paged = append(paged, page...)
		after = page[len(page)-1]
	}
	require.Equal(t, prefixed, paged)

	// A cursor before the prefix range starts at the prefix; one past it
	// gives nothing; one inside without a prefix continues from there.
	require.Equal(t, prefixed[:2], listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: "app/", After: "a", Limit: 2}))
	require.Empty(t, listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: "app/", After: "app0"}))
	require.Equal(t, []string{"app0", "apple", "b"}, listKeys(t, s, store.KVListParams{Namespace: "kv", After: "app/é"}))
	require.Equal(t, []string{"app/2", "app/Z"}, listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: "app/", After: "app/10", Limit: 2}))

	_, err = s.KVList(ctx, store.KVListParams{Namespace: "kv", Limit: -1})
	require.Error(t, err)
	_, err = s.KVList(ctx, store.KVListParams{Namespace: "kv", Prefix: "bad\xff"})
	require.Error(t, err)
}

func testKVListPrefixBounds(t *testing.T, s store.Store) {
	// Prefixes whose last characters sit at the edges of Unicode: the
	// listing must still be exactly the keys starting with the prefix.
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("kv")})
	ks := []string{
		"k", "k~", "k\x7f", "k\x7fz", "k\u0080", "k\u07ff", "k\u0800",
		"k\ud7ff", "k\ud7ffx", "k\ue000", "k\uffff", "k\U00010000",
		"k\U0010ffff", "k\U0010ffffa", "k\U0010ffff\U0010ffff", "l",
		"\U0010ffff", "\U0010ffffz",
	}
	for _, k := range ks {
		put(t, s, "kv", k, "v", 0)
	}
	for _, prefix := range []string{"k", "k\x7f", "k\u07ff", "k\ud7ff", "k\uffff", "k\U0010ffff", "\U0010ffff", "k\U0010ffff\U0010ffff"} {
		var want []string
		for _, k := range ks {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		sortBytes(want)
		require.Equal(t, want, listKeys(t, s, store.KVListParams{Namespace: "kv", Prefix: prefix}), "prefix %q", prefix)
	}
}

// sortBytes sorts strings in byte order.
func sortBytes(ss []string) {
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && ss[j] < ss[j-1]; j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
		}
	}
}

func testKVListDefaultLimit(t *testing.T, s store.Store) {
	ctx := context.Background()
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("kv")})
	for i := range store.KVDefaultListLimit + 1 {
		put(t, s, "kv", fmt.Sprintf("k%05d", i), "v", 0)
	}
	es, err := s.KVList(ctx, store.KVListParams{Namespace: "kv"})
	require.NoError(t, err)
	require.Len(t, es, store.KVDefaultListLimit)
	require.Equal(t, "k00999", es[len(es)-1].Key)
	es, err = s.KVList(ctx, store.KVListParams{Namespace: "kv", After: "k00999"})
	require.NoError(t, err)
	require.Equal(t, []string{"k01000"}, keys(es))
}

func testKVReadAfterWrite(t *testing.T, s store.Store) {
	// Writers and readers at once: each goroutine's get sees its own
	// latest put, and deletes are seen by the next get.
	ctx := context.Background()
	deployBindings(t, s, "p", store.BindingsApplyParams{KV: kvNamespaces("kv")})
	const workers, rounds = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			key := fmt.Sprint("worker-", w)
			for i := range rounds {
				want := fmt.Sprint(w, ":", i)
				if err := s.KVPut(ctx, "kv", key, []byte(want), 0); err != nil {
					errs <- err
					return
				}
				e, err := s.KVGet(ctx, "kv", key)
				if err != nil {
					errs <- err
					return
				}
				if string(e.Value) != want {
					errs <- fmt.Errorf("%s: read %q after writing %q", key, e.Value, want)
					return
				}
				if i%5 == 4 {
					if ok, err := s.KVDelete(ctx, "kv", key); err != nil || !ok {
						errs <- fmt.Errorf("%s: delete after put: %v %v", key, ok, err)
						return
					}
					if _, err := s.KVGet(ctx, "kv", key); !errors.Is(err, store.ErrNotFound) {
						errs <- fmt.Errorf("%s: get after delete: %v", key, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

func testSecrets(t *testing.T, s store.Store) {
	ctx := context.Background()
	clk := fakeClock(t, s)
	ss, err := s.SecretList(ctx)
	require.NoError(t, err)
	require.Empty(t, ss)

	ct := []byte{0x01, 0x00, 0xff, 'n', 'o', 'n', 'c', 'e'}
	require.NoError(t, s.SecretPut(ctx, "shop", "STRIPE_KEY", ct))
	clk.Advance(time.Minute)
	require.NoError(t, s.SecretPut(ctx, "shop", "DB_PASSWORD", []byte("ct2")))
	got, err := s.SecretGet(ctx, "shop", "STRIPE_KEY")
	require.NoError(t, err)
	require.Equal(t, ct, got, "ciphertext bytes come back as stored")
	ss, err = s.SecretList(ctx)
	require.NoError(t, err)
	require.Equal(t, []record.SecretInfo{
		{Project: "shop", Name: "DB_PASSWORD", UpdatedAt: t0.Add(time.Minute)},
		{Project: "shop", Name: "STRIPE_KEY", UpdatedAt: t0},
	}, ss, "names and times, sorted, no values")

	// Rotation replaces the value and the time.
	clk.Advance(time.Minute)
	require.NoError(t, s.SecretPut(ctx, "shop", "STRIPE_KEY", []byte("rotated")))
	got, err = s.SecretGet(ctx, "shop", "STRIPE_KEY")
	require.NoError(t, err)
	require.Equal(t, "rotated", string(got))
	ss, err = s.SecretList(ctx)
	require.NoError(t, err)
	require.Equal(t, t0.Add(2*time.Minute), ss[1].UpdatedAt)

	ok, err := s.SecretDelete(ctx, "shop", "STRIPE_KEY")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.SecretDelete(ctx, "shop", "STRIPE_KEY")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = s.SecretGet(ctx, "shop", "STRIPE_KEY")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Names: [A-Za-z_][A-Za-z0-9_]{0,127}, the rule of the manifest and the API.
	for _, name := range []string{"_", "A", "A1", "_9", "lower", "Mixed", "X" + strings.Repeat("_", 127)} {
		require.NoError(t, s.SecretPut(ctx, "shop", name, []byte("v")), name)
	}
	for _, name := range []string{"", "1ABC", "A-B", "A B", "A.B", "É", "X" + strings.Repeat("_", 128)} {
		require.Error(t, s.SecretPut(ctx, "shop", name, []byte("v")), "%q", name)
		_, err := s.SecretGet(ctx, "shop", name)
		require.Error(t, err, "%q", name)
		require.NotErrorIs(t, err, store.ErrNotFound, "%q: a bad name is not a missing secret", name)
	}
	require.Error(t, s.SecretPut(ctx, "", "A", []byte("v")), "every secret written belongs to a project")
	ss, err = s.SecretList(ctx)
	require.NoError(t, err)
	require.Len(t, ss, 8, "DB_PASSWORD and the seven valid names")
}

// testSecretsPerProject: secret names are per project, so a project never
// reads, overwrites or deletes another's secret of the same name (issue 9:
// any project could bind another project's secret by name).
func testSecretsPerProject(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.NoError(t, s.SecretPut(ctx, "victim", "API_KEY", []byte("victim-ct")))
	_, err := s.SecretGet(ctx, "thief", "API_KEY")
	require.ErrorIs(t, err, store.ErrNotFound, "another project's secret is not visible under the same name")
	ok, err := s.SecretDelete(ctx, "thief", "API_KEY")
	require.NoError(t, err)
	require.False(t, ok, "deleting in one project leaves another's alone")

	require.NoError(t, s.SecretPut(ctx, "thief", "API_KEY", []byte("thief-ct")))
	got, err := s.SecretGet(ctx, "victim", "API_KEY")
	require.NoError(t, err)
	require.Equal(t, "victim-ct", string(got), "a same-named secret of another project does not overwrite")
	got, err = s.SecretGet(ctx, "thief", "API_KEY")
	require.NoError(t, err)
	require.Equal(t, "thief-ct", string(got))
	_, err = s.SecretGet(ctx, store.LegacySecretProject, "API_KEY")
	require.ErrorIs(t, err, store.ErrNotFound)

	ss, err := s.SecretList(ctx)
	require.NoError(t, err)
	require.Len(t, ss, 2)
	require.Equal(t, [2]string{"thief", "API_KEY"}, [2]string{ss[0].Project, ss[0].Name}, "sorted by project, then name")
	require.Equal(t, [2]string{"victim", "API_KEY"}, [2]string{ss[1].Project, ss[1].Name})
}
