package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/api"
	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/cluster"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestNodesListAndScope: GET /nodes lists the nodes sharing the store to
// a token of every project (read scope is enough); nodes belong to no
// project, so a project-scoped token, whatever its scope, gets 403 and
// no token 401.
func TestNodesListAndScope(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	for _, tok := range []record.Token{
		{Hash: api.HashToken(testToken), Name: "admin"},
		{Hash: api.HashToken("reader"), Name: "dashboard", Scope: record.ScopeRead},
		{Hash: api.HashToken("shop-admin"), Name: "shop-ops", Project: "shop", Scope: record.ScopeAdmin},
	} {
		require.NoError(t, st.TokenPut(ctx, tok))
	}
	a := cluster.New(cluster.Config{Store: st, ID: "node-a", Addr: "10.0.0.1:8080", Version: "v1", Load: func() int { return 3 }})
	b := cluster.New(cluster.Config{Store: st, ID: "node-b", Addr: "10.0.0.2:8080", Version: "v1"})
	for _, m := range []*cluster.Membership{a, b} {
		require.NoError(t, m.Join(ctx))
		t.Cleanup(func() { _ = m.Leave(context.Background()) })
	}
	require.NoError(t, a.SetState(ctx, record.NodeServing))
	require.NoError(t, b.SetState(ctx, record.NodeDraining))
	srv := httptest.NewServer(api.New(api.Config{Store: st, Nodes: a, Invoker: noInvoker{}}))
	t.Cleanup(srv.Close)

	for _, tok := range []string{testToken, "reader"} {
		r := call(t, srv, tok, "GET", "/nodes", "")
		require.Equal(t, http.StatusOK, r.status, "%s", r.body)
		var got apitype.NodesResponse
		require.NoError(t, json.Unmarshal(r.body, &got))
		require.Equal(t, "node-a", got.Self)
		require.Len(t, got.Nodes, 2)
		require.Equal(t, apitype.Node{ID: "node-a", Addr: "10.0.0.1:8080", State: "serving", Version: "v1", Load: 3,
			StartedAt: got.Nodes[0].StartedAt, LastHeartbeat: got.Nodes[0].LastHeartbeat}, got.Nodes[0])
		require.Equal(t, "draining", got.Nodes[1].State)
		require.WithinDuration(t, time.Now(), got.Nodes[0].LastHeartbeat, time.Minute)
	}
	r := call(t, srv, "shop-admin", "GET", "/nodes", "")
	require.Equal(t, http.StatusForbidden, r.status, "%s", r.body)
	require.NotContains(t, string(r.body), "node-a")
	r = call(t, srv, "", "GET", "/nodes", "")
	require.Equal(t, http.StatusUnauthorized, r.status, "%s", r.body)

	// A node that left is listed gone, and its id is free at once.
	require.NoError(t, b.Leave(ctx))
	r = call(t, srv, testToken, "GET", "/nodes", "")
	var got apitype.NodesResponse
	require.NoError(t, json.Unmarshal(r.body, &got))
	require.Equal(t, "gone", got.Nodes[1].State)
	c := cluster.New(cluster.Config{Store: st, ID: "node-b", Addr: "10.0.0.3:8080", Version: "v2"})
	require.NoError(t, c.Join(ctx))
	t.Cleanup(func() { _ = c.Leave(context.Background()) })

	// An id a live node holds at another address is refused, saying what
	// to do.
	d := cluster.New(cluster.Config{Store: st, ID: "node-a", Addr: "10.0.0.9:8080", Version: "v1"})
	err = d.Join(ctx)
	require.ErrorContains(t, err, `node id "node-a" is in use by a live node at 10.0.0.1:8080 (serving, last heartbeat `)
	require.ErrorContains(t, err, "give this node another id with --node-id, or stop the other node first (its id frees once it exits or stays silent for 15s)")
}
