package deploy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// bindingSpec is a project with a database of each engine, a KV namespace
// and a function using them, as the manifest's docs example has it.
func bindingSpec() Spec {
	api := fn("api", sha('1'), "GET /a")
	api.Config.Bindings = []record.Binding{
		{Name: "db", Kind: record.BindingSQL, Resource: "main"},
		{Name: "orders", Kind: record.BindingSQL, Resource: "orders"},
	}
	api.Config.Secrets = []string{"STRIPE_KEY"}
	api.Config.Fetch = []string{"*.example.org"}
	s := spec("shop", api, fn("web", sha('2')))
	s.Databases = []DatabaseSpec{
		{Name: "main", Engine: record.EngineSQLite, MaxConnections: 10},
		{Name: "orders", Engine: record.EnginePostgres, URL: "postgres://app:${secret:ORDERS_PW}@db/orders", MaxConnections: 10},
	}
	s.KV = []KVSpec{{Name: "sessions"}}
	s.Secrets = []string{"ORDERS_PW", "STRIPE_KEY"}
	return s
}

func TestComputeBindingsFirstDeploy(t *testing.T) {
	s := bindingSpec()
	p, err := Compute(s, State{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
+ function api: module 111111111111, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64, bindings +db→main, bindings +orders→orders, secrets +STRIPE_KEY, fetch +*.example.org
+ function web: module 222222222222, kind reactor, memory 128 MB, timeout 10s, max_concurrency 64
+ route GET /a → api
+ database main (sqlite, max_connections 10)
+ database orders (postgres postgres://app:${secret:ORDERS_PW}@db/orders, max_connections 10)
+ kv sessions
functions: 2 to add, 0 to change, 0 to remove, 0 unchanged; routes: 1 to add, 0 to remove; databases: 2 to add, 0 to change, 0 to remove; kv: 1 to add, 0 to change, 0 to remove
`, out.String())

	ap := p.ApplyParams(s, testNow)
	require.NotNil(t, ap.Bindings)
	assert.Equal(t, []record.DatabaseConfig{
		{Name: "main", Project: "shop", Engine: "sqlite", MaxConnections: 10},
		{Name: "orders", Project: "shop", Engine: "postgres", URL: "postgres://app:${secret:ORDERS_PW}@db/orders", MaxConnections: 10},
	}, ap.Bindings.Databases)
	assert.Equal(t, []record.KVNamespace{{Name: "sessions", Project: "shop"}}, ap.Bindings.KV)
	require.NoError(t, ap.Validate())
	assert.Equal(t, s.Functions[0].Config.Bindings, ap.NewVersions[0].Config.Bindings)
	assert.Equal(t, []string{"STRIPE_KEY"}, ap.NewVersions[0].Config.Secrets)
	assert.Equal(t, []string{"*.example.org"}, ap.NewVersions[0].Config.Fetch)

	// ApplyParams hands out copies.
	ap.NewVersions[0].Config.Bindings[0].Resource = "changed"
	ap.NewVersions[0].Config.Fetch[0] = "changed"
	assert.Equal(t, "main", s.Functions[0].Config.Bindings[0].Resource)
	assert.Equal(t, "*.example.org", s.Functions[0].Config.Fetch[0])
}

func TestComputeBindingsIdempotent(t *testing.T) {
	s := bindingSpec()
	p, err := Compute(s, deployed(s))
	require.NoError(t, err)
	assert.True(t, p.Empty(), "%+v", p)
	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, "project shop: no changes (2 functions unchanged)\n", out.String())
	ap := p.ApplyParams(s, testNow)
	assert.Empty(t, ap.NewVersions)
	require.NotNil(t, ap.Bindings, "the complete set is always sent, so the store never has to guess")
	assert.Len(t, ap.Bindings.Databases, 2)

	// The order of lists means nothing: no new version for reordering.
	r := bindingSpec()
	r.Functions[0].Config.Bindings[0], r.Functions[0].Config.Bindings[1] = r.Functions[0].Config.Bindings[1], r.Functions[0].Config.Bindings[0]
	r.Functions[0].Config.Fetch = []string{"*.example.org"}
	p, err = Compute(r, deployed(s))
	require.NoError(t, err)
	assert.True(t, p.Empty())

	// A project without any bindings still sends empty sets, never nil.
	plain := spec("plain", fn("x", sha('3')))
	p, err = Compute(plain, deployed(plain))
	require.NoError(t, err)
	assert.True(t, p.Empty())
	ap = p.ApplyParams(plain, testNow)
	require.NotNil(t, ap.Bindings)
	assert.NotNil(t, ap.Bindings.Databases)
	assert.NotNil(t, ap.Bindings.KV)
	assert.Empty(t, ap.Bindings.Databases)
}

func TestComputeBindingsChange(t *testing.T) {
	old := bindingSpec()
	s := bindingSpec()
	api := &s.Functions[0]
	api.Config.Bindings = append(api.Config.Bindings, record.Binding{Name: "cache", Kind: record.BindingKV, Resource: "sessions"})
	api.Config.Secrets = nil
	api.Config.Fetch = []string{"api.stripe.com", "*.example.org"}
	api.Config.FetchPrivate = true
	web := &s.Functions[1]
	web.Config.Secrets = []string{"STRIPE_KEY"}
	s.Databases[1].MaxConnections = 20
	s.Databases[1].URL = "${secret:ORDERS_URL}"
	s.Secrets = append(s.Secrets, "ORDERS_URL")
	s.Databases = append(s.Databases[1:], DatabaseSpec{Name: "audit", Engine: record.EngineSQLite, MaxConnections: 1})
	s.KV = []KVSpec{{Name: "sessions"}, {Name: "flags"}}

	st := deployed(old)
	st.KV = append(st.KV, record.KVNamespace{Name: "carts", Project: "shop"}, record.KVNamespace{Name: "theirs", Project: "other"})
	_, err := Compute(s, st)
	require.Error(t, err, "binding db→main after main is gone must fail validation")
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), `function "api": bindings: "db": unknown database or kv namespace "main"`)

	s.Databases = append(s.Databases, DatabaseSpec{Name: "main", Engine: record.EngineSQLite, MaxConnections: 10})
	api.Config.Bindings[0].Resource = "audit"
	p, err := Compute(s, st)
	require.NoError(t, err)
	assert.Equal(t, []string{"api", "web"}, names(p.Change))
	assert.Equal(t, []string{
		"bindings +cache→sessions", "bindings ~db: main→audit",
		"secrets -STRIPE_KEY", "fetch +api.stripe.com", "fetch_private off→on",
	}, p.Change[0].Fields)
	assert.Equal(t, []string{"secrets +STRIPE_KEY"}, p.Change[1].Fields)

	var out bytes.Buffer
	require.NoError(t, p.Write(&out))
	assert.Equal(t, `project shop:
~ function api: bindings +cache→sessions, bindings ~db: main→audit, secrets -STRIPE_KEY, fetch +api.stripe.com, fetch_private off→on
~ function web: secrets +STRIPE_KEY
+ database audit (sqlite, max_connections 1)
~ database orders: url postgres://app:${secret:ORDERS_PW}@db/orders→${secret:ORDERS_URL}, max_connections 10→20
+ kv flags
- kv carts (its entries are deleted)
functions: 0 to add, 2 to change, 0 to remove, 0 unchanged; routes: 0 to add, 0 to remove; databases: 1 to add, 1 to change, 0 to remove; kv: 1 to add, 0 to change, 1 to remove
`, out.String())

	// Removing a database forgets its configuration only.
	s.Databases = s.Databases[:len(s.Databases)-1]
	p, err = Compute(s, st)
	require.NoError(t, err)
	require.Len(t, p.DatabasesRemove, 1)
	out.Reset()
	require.NoError(t, p.Write(&out))
	assert.Contains(t, out.String(), "- database main (its configuration only: the SQLite file stays on disk)\n")
}

func TestComputeBindingConflicts(t *testing.T) {
	s := bindingSpec()
	st := State{
		Databases: []record.DatabaseConfig{{Name: "orders", Project: "other", Engine: record.EngineSQLite, MaxConnections: 10}},
		KV:        []record.KVNamespace{{Name: "sessions", Project: "other"}},
	}
	_, err := Compute(s, st)
	require.Error(t, err)
	assert.True(t, errors.Is(err, store.ErrConflict))
	assert.Contains(t, err.Error(), `database "orders" belongs to project "other"`)
	assert.Contains(t, err.Error(), `kv namespace "sessions" belongs to project "other"`)

	// Names other projects own do not matter when this project does not
	// want them, and are never removed by it.
	st.Databases[0].Name, st.KV[0].Name = "elsewhere", "elsewhere-kv"
	p, err := Compute(s, st)
	require.NoError(t, err)
	assert.Empty(t, p.DatabasesRemove)
	assert.Empty(t, p.KVRemove)
}
