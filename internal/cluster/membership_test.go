package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/cluster"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store/sqlite"
)

// TestMembershipStatesAndView: a node goes joining → serving → draining
// → gone and never back (a load that ends during a drain does not undo
// it); the list shows a node silent for the lease as gone before any
// heartbeat marked it.
func TestMembershipStatesAndView(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clk := clock.NewFake(time.Now())
	st.SetNow(clk.Now) // heartbeats and the view read one clock
	m := cluster.New(cluster.Config{Store: st, ID: "n1", Addr: "127.0.0.1:8080", Version: "v1", Lease: time.Hour, Clock: clk})
	require.NoError(t, m.Join(ctx))
	t.Cleanup(func() { _ = m.Leave(context.Background()) })
	state := func() string {
		ns, err := m.Nodes(ctx)
		require.NoError(t, err)
		require.Len(t, ns, 1)
		return ns[0].State
	}
	require.Equal(t, record.NodeJoining, state())
	require.NoError(t, m.SetState(ctx, record.NodeServing))
	require.Equal(t, record.NodeServing, state())
	require.NoError(t, m.SetState(ctx, record.NodeDraining))
	require.NoError(t, m.SetState(ctx, record.NodeServing))
	require.Equal(t, record.NodeDraining, state(), "a draining node is not serving again")
	require.Equal(t, record.NodeDraining, m.State())

	clk.Advance(time.Hour)
	require.Equal(t, record.NodeGone, state(), "silent for the lease: shown gone")

	require.NoError(t, m.Leave(ctx))
	require.NoError(t, m.Leave(ctx), "Leave is idempotent")
}

func TestDefaultIDAndAddr(t *testing.T) {
	host, err := os.Hostname()
	require.NoError(t, err)
	require.Equal(t, host+"-8080", cluster.DefaultID("127.0.0.1:8080"))
	require.Equal(t, host+"-9000", cluster.DefaultID("[::]:9000"))
	require.Equal(t, "127.0.0.1:8080", cluster.DefaultAddr("127.0.0.1:8080"))
	require.Equal(t, host+":8080", cluster.DefaultAddr("0.0.0.0:8080"))
	require.Equal(t, host+":8080", cluster.DefaultAddr(":8080"))
	require.NoError(t, cluster.ValidID("web-1.example:8080"))
	require.ErrorContains(t, cluster.ValidID("web 1"), `node id "web 1": want 1 to 128 letters`)
}
