package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/store"
)

// nodesTests are the conformance tests of store.Nodes, run by Run.
var nodesTests = []struct {
	name string
	fn   func(t *testing.T, s store.Store)
}{
	{"NodesJoinHeartbeatList", testNodesJoinHeartbeat},
	{"NodesOneIDOneLiveNode", testNodesDuplicateID},
	{"NodesExpireAndForget", testNodesExpire},
	{"NodesConcurrentJoinsOneWins", testNodesConcurrentJoin},
	{"NodesBadInput", testNodesBadInput},
	{"NodeReleaseEndsItsLeasesOnly", testNodeRelease},
}

const nodeLease = 15 * time.Second

func join(ctx context.Context, s store.Store, id, addr string) error {
	return s.NodeJoin(ctx, store.NodeJoinParams{ID: id, Addr: addr, Version: "v1", Lease: nodeLease})
}

func beat(ctx context.Context, s store.Store, id, addr, state string, load int) error {
	return s.NodeHeartbeat(ctx, store.NodeHeartbeatParams{ID: id, Addr: addr, State: state, Load: load})
}

func nodeByID(t *testing.T, s store.Store, id string) record.Node {
	t.Helper()
	ns, err := s.NodeList(context.Background())
	require.NoError(t, err)
	for _, n := range ns {
		if n.ID == id {
			return n
		}
	}
	t.Fatalf("node %s not listed: %+v", id, ns)
	return record.Node{}
}

func testNodesJoinHeartbeat(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	ns, err := s.NodeList(ctx)
	require.NoError(t, err)
	require.Empty(t, ns)

	require.NoError(t, join(ctx, s, "node-b", "10.0.0.2:8080"))
	require.NoError(t, join(ctx, s, "node-a", "10.0.0.1:8080"))
	a := nodeByID(t, s, "node-a")
	require.Equal(t, record.Node{ID: "node-a", Addr: "10.0.0.1:8080", State: record.NodeJoining, Version: "v1",
		StartedAt: t0, Heartbeat: t0}, a)

	c.Advance(3 * time.Second)
	require.NoError(t, beat(ctx, s, "node-a", "10.0.0.1:8080", record.NodeServing, 7))
	a = nodeByID(t, s, "node-a")
	require.Equal(t, record.NodeServing, a.State)
	require.Equal(t, 7, a.Load)
	require.Equal(t, t0, a.StartedAt, "a heartbeat keeps the start")
	require.Equal(t, t0.Add(3*time.Second), a.Heartbeat)
	require.Equal(t, time.UTC, a.Heartbeat.Location())

	ns, err = s.NodeList(ctx)
	require.NoError(t, err)
	require.Len(t, ns, 2)
	require.Equal(t, []string{"node-a", "node-b"}, []string{ns[0].ID, ns[1].ID}, "listed by id")

	// A node's last heartbeat says it is gone; its row stays, listed.
	require.NoError(t, beat(ctx, s, "node-b", "10.0.0.2:8080", record.NodeGone, 0))
	require.Equal(t, record.NodeGone, nodeByID(t, s, "node-b").State)
	// A heartbeat of an unknown node is ErrNotFound.
	require.ErrorIs(t, beat(ctx, s, "node-z", "10.0.0.9:8080", record.NodeServing, 0), store.ErrNotFound)
}

func testNodesDuplicateID(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	require.NoError(t, join(ctx, s, "n1", "10.0.0.1:8080"))
	require.NoError(t, beat(ctx, s, "n1", "10.0.0.1:8080", record.NodeServing, 2))

	// Another address while the holder is live: refused, naming it.
	c.Advance(nodeLease - time.Second)
	err := join(ctx, s, "n1", "10.0.0.2:8080")
	require.ErrorIs(t, err, store.ErrNodeIDTaken)
	var taken *store.NodeIDTakenError
	require.True(t, errors.As(err, &taken))
	require.Equal(t, "10.0.0.1:8080", taken.Holder.Addr)
	require.Equal(t, record.NodeServing, taken.Holder.State)
	require.Contains(t, err.Error(), "node id n1 is held by a live node at 10.0.0.1:8080")
	require.Equal(t, "10.0.0.1:8080", nodeByID(t, s, "n1").Addr, "a refused join changes nothing")

	// The same address (a restart of that node): taken over at once.
	require.NoError(t, join(ctx, s, "n1", "10.0.0.1:8080"))
	n := nodeByID(t, s, "n1")
	require.Equal(t, record.NodeJoining, n.State)
	require.Equal(t, c.Now().UTC(), n.StartedAt)

	// Silent for the lease: another address takes the id, and the old
	// holder's heartbeats find no row of theirs.
	c.Advance(nodeLease)
	require.NoError(t, join(ctx, s, "n1", "10.0.0.2:8080"))
	require.Equal(t, "10.0.0.2:8080", nodeByID(t, s, "n1").Addr)
	require.ErrorIs(t, beat(ctx, s, "n1", "10.0.0.1:8080", record.NodeServing, 0), store.ErrNotFound)

	// A holder that left (gone) frees its id at once.
	require.NoError(t, beat(ctx, s, "n1", "10.0.0.2:8080", record.NodeGone, 0))
	require.NoError(t, join(ctx, s, "n1", "10.0.0.3:8080"))
	require.Equal(t, "10.0.0.3:8080", nodeByID(t, s, "n1").Addr)
}

func testNodesExpire(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := fakeClock(t, s)
	p := store.NodeExpireParams{Lease: nodeLease, Forget: time.Hour}
	require.NoError(t, join(ctx, s, "live", "10.0.0.1:8080"))
	require.NoError(t, join(ctx, s, "silent", "10.0.0.2:8080"))
	gone, err := s.NodeExpire(ctx, p)
	require.NoError(t, err)
	require.Empty(t, gone)

	c.Advance(nodeLease)
	require.NoError(t, beat(ctx, s, "live", "10.0.0.1:8080", record.NodeServing, 0))
	gone, err = s.NodeExpire(ctx, p)
	require.NoError(t, err)
	require.Equal(t, []string{"silent"}, gone)
	require.Equal(t, record.NodeGone, nodeByID(t, s, "silent").State)
	require.Equal(t, record.NodeServing, nodeByID(t, s, "live").State)
	gone, err = s.NodeExpire(ctx, p)
	require.NoError(t, err)
	require.Empty(t, gone, "a gone node is marked once")

	// Gone for the forget period: deleted. The live one stays.
	c.Advance(time.Hour - nodeLease)
	require.NoError(t, beat(ctx, s, "live", "10.0.0.1:8080", record.NodeServing, 0))
	_, err = s.NodeExpire(ctx, p)
	require.NoError(t, err)
	ns, err := s.NodeList(ctx)
	require.NoError(t, err)
	require.Len(t, ns, 1)
	require.Equal(t, "live", ns[0].ID)
}

func testNodesConcurrentJoin(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { errs[i] = join(ctx, s, "same", fmt.Sprintf("10.0.0.%d:8080", i+1)) })
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, won, "two joins with one id both won: %d and %d", won, i)
			won = i
			continue
		}
		require.ErrorIs(t, err, store.ErrNodeIDTaken)
	}
	require.NotEqual(t, -1, won, "no join won")
	require.Equal(t, fmt.Sprintf("10.0.0.%d:8080", won+1), nodeByID(t, s, "same").Addr)
}

func testNodesBadInput(t *testing.T, s store.Store) {
	ctx := context.Background()
	require.ErrorContains(t, s.NodeJoin(ctx, store.NodeJoinParams{Addr: "10.0.0.1:8080", Lease: nodeLease}), "an id, an address and a positive lease are required")
	require.ErrorContains(t, s.NodeJoin(ctx, store.NodeJoinParams{ID: "x", Lease: nodeLease}), "an id, an address and a positive lease are required")
	require.ErrorContains(t, s.NodeJoin(ctx, store.NodeJoinParams{ID: "x", Addr: "10.0.0.1:8080"}), "an id, an address and a positive lease are required")
	require.NoError(t, join(ctx, s, "x", "10.0.0.1:8080"))
	require.ErrorContains(t, beat(ctx, s, "x", "10.0.0.1:8080", "asleep", 0), `node state "asleep": want joining, serving, draining or gone`)
	require.Equal(t, record.NodeJoining, nodeByID(t, s, "x").State)
	_, err := s.NodeExpire(ctx, store.NodeExpireParams{Lease: time.Minute, Forget: time.Second})
	require.ErrorContains(t, err, "forget period at least as long")
}

// testNodeRelease: releasing a node's leases frees its workflow tasks,
// objects and unacked messages at once and fences the old holder, and
// leaves alone those of a node whose id it is a prefix of.
func testNodeRelease(t *testing.T, s store.Store) {
	ctx := context.Background()
	fakeClock(t, s)
	deployEvents(t, s, "p", store.EventsApplyParams{Queues: []record.QueueConfig{userQueue("q")}})
	send(t, s, msg("q", "one"), msg("q", "two"))
	rcv := func(owner string) record.Message {
		got, err := s.MessageReceive(ctx, store.MessageReceiveParams{Queue: "q", Max: 1, Owner: owner})
		require.NoError(t, err)
		require.Len(t, got, 1)
		return got[0]
	}
	mine, other := rcv("node-a"), rcv("node-ab")

	flowStart(t, s, "x", t0)
	x := claimOne(t, s, "x", t0) // by node-a
	flowStart(t, s, "y", t0)
	y, err := s.FlowClaim(ctx, "node-ab", t0, leaseFor, 10)
	require.NoError(t, err)
	require.Len(t, y, 1)

	k1, k2 := objKey("p", "Room", "one"), objKey("p", "Room", "two")
	l1 := acquire(t, s, k1, "node-a")
	acquire(t, s, k2, "node-ab")

	got, err := s.NodeRelease(ctx, "node-a")
	require.NoError(t, err)
	require.Equal(t, store.NodeReleased{Tasks: 1, Objects: 1, Messages: 1, Queues: []string{"q"}}, got)

	// Another node takes node-a's work now, not after the leases.
	taken, err := s.FlowClaim(ctx, "node-b", t0, leaseFor, 10)
	require.NoError(t, err)
	require.Len(t, taken, 1, "node-ab's task stays held")
	require.Equal(t, "x", taken[0].ExecutionID)
	l1b, err := s.ObjectLeaseAcquire(ctx, k1, "node-b", time.Minute)
	require.NoError(t, err)
	require.Greater(t, l1b.Token, l1.Token)
	_, err = s.ObjectLeaseAcquire(ctx, k2, "node-b", time.Minute)
	require.ErrorIs(t, err, store.ErrLeaseHeld, "node-ab's object stays held")
	again := rcv("node-b")
	require.Equal(t, mine.ID, again.ID)
	require.NotEqual(t, other.ID, again.ID)

	// The old holder is fenced.
	require.ErrorIs(t, commit(s, store.FlowCommit{ExecutionID: "x", Lease: x.Lease, FromSeq: 1,
		Events: []record.FlowEvent{fev("scheduled", 1, "f", "")}}, t0), store.ErrLeaseLost)
	require.Zero(t, ack(t, s, "q", mine), "a released receipt no longer acks")
	require.Equal(t, 1, ack(t, s, "q", again))
	require.Equal(t, 1, ack(t, s, "q", other))

	got, err = s.NodeRelease(ctx, "node-a")
	require.NoError(t, err)
	require.Equal(t, store.NodeReleased{}, got, "nothing left to release")
	_, err = s.NodeRelease(ctx, "")
	require.Error(t, err)
}
