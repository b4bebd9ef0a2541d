package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/clock"
	"github.com/stratahq/strata/internal/cluster"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
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

// TestGoneNodesLeasesReleased: the node that declares another gone
// releases the leases the gone one held, at once rather than when they
// run out (here an object lease of an hour), and says what it released.
func TestGoneNodesLeasesReleased(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "strata.db"))
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	const lease = 300 * time.Millisecond
	// n2 joins and takes an object, then falls silent (never heartbeats).
	require.NoError(t, st.NodeJoin(ctx, store.NodeJoinParams{ID: "n2", Addr: "127.0.0.1:8082", Version: "v1", Lease: lease}))
	key := record.ObjectKey{Project: "p", Class: "Room", ID: strings.Repeat("a", 64)}
	held, err := st.ObjectLeaseAcquire(ctx, key, "n2", time.Hour)
	require.NoError(t, err)

	released := make(chan store.NodeReleased, 1)
	m := cluster.New(cluster.Config{Store: st, ID: "n1", Addr: "127.0.0.1:8081", Version: "v1", Lease: lease,
		Released: func(r store.NodeReleased) { released <- r }})
	require.NoError(t, m.Join(ctx))
	t.Cleanup(func() { _ = m.Leave(context.Background()) })
	select {
	case r := <-released:
		require.Equal(t, store.NodeReleased{Objects: 1}, r)
	case <-time.After(time.Minute):
		t.Fatal("n2's leases were not released after it was declared gone")
	}
	got, err := st.ObjectLeaseAcquire(ctx, key, "n1", time.Minute)
	require.NoError(t, err, "n2's object lease of an hour was released")
	require.Greater(t, got.Token, held.Token)
	require.Equal(t, record.NodeGone, nodeState(t, m, "n2"))
}

func nodeState(t *testing.T, m *cluster.Membership, id string) string {
	t.Helper()
	ns, err := m.Nodes(context.Background())
	require.NoError(t, err)
	for _, n := range ns {
		if n.ID == id {
			return n.State
		}
	}
	t.Fatalf("node %s is not listed", id)
	return ""
}
