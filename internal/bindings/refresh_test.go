package bindings

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/sdk/go/wire"
)

// TestRefreshReopensChangedDatabases: a database whose configuration
// changed, or whose URL's secret was rotated, is reopened on its next use;
// an unchanged one keeps its pool.
func TestRefreshReopensChangedDatabases(t *testing.T) {
	f := setup(t)
	main := record.DatabaseConfig{Name: "main", Engine: record.EngineSQLite, MaxConnections: 5}
	f.st.addDatabase(main)
	ctx := as("fn", "inv-1", record.FunctionConfig{Bindings: []record.Binding{sqlBinding("db", "main")}})
	query := func() {
		t.Helper()
		res, err := f.b.SQL(ctx, wire.SQLRequest{Op: wire.SQLQuery, Binding: "db", SQL: "select 1"})
		require.NoError(t, err)
		require.Nil(t, res.Error)
	}
	opened := func() *database {
		f.b.mu.Lock()
		defer f.b.mu.Unlock()
		return f.b.dbs["main"]
	}
	query()
	first := opened()
	require.NotNil(t, first)

	f.b.Refresh(context.Background(), []record.DatabaseConfig{main}, nil)
	require.Same(t, first, opened(), "unchanged configuration keeps the pool")

	changed := main
	changed.MaxConnections = 7
	f.st.addDatabase(changed)
	f.b.Refresh(context.Background(), []record.DatabaseConfig{changed}, nil)
	require.Nil(t, opened(), "a changed configuration retires the pool")
	query()
	second := opened()
	require.NotSame(t, first, second)
	require.Equal(t, 7, second.cfg.MaxConnections)

	// A secret referenced by the URL, set after the open, retires it too.
	second.cfg.URL = "postgres://u:${secret:PW}@h/db"
	f.b.Refresh(context.Background(), []record.DatabaseConfig{{Name: "main", Engine: record.EngineSQLite, MaxConnections: 7, URL: second.cfg.URL}},
		[]record.SecretInfo{{Name: "PW", UpdatedAt: second.openedAt.Add(-time.Minute)}})
	require.Same(t, second, opened(), "a secret set before the open changes nothing")
	f.b.Refresh(context.Background(), []record.DatabaseConfig{{Name: "main", Engine: record.EngineSQLite, MaxConnections: 7, URL: second.cfg.URL}},
		[]record.SecretInfo{{Name: "PW", UpdatedAt: second.openedAt.Add(time.Minute)}})
	require.Nil(t, opened(), "a rotated secret retires the pool")

	// A database no longer deployed is closed.
	query()
	f.b.Refresh(context.Background(), nil, nil)
	require.Nil(t, opened())
}
