package store

import (
	"context"
	"errors"
	"time"

	"github.com/stratahq/strata/internal/record"
)

// ErrNodeIDTaken: a live node (one that heartbeat within the lease and is
// not gone) holds the node id at another address. NodeJoin wraps it in a
// *NodeIDTakenError naming the holder.
var ErrNodeIDTaken = errors.New("node id held by a live node")

// NodeIDTakenError says which live node holds an id.
type NodeIDTakenError struct {
	Holder record.Node
}

func (e *NodeIDTakenError) Error() string {
	return "node id " + e.Holder.ID + " is held by a live node at " + e.Holder.Addr +
		" (" + e.Holder.State + ", last heartbeat " + e.Holder.Heartbeat.UTC().Format(time.RFC3339) + ")"
}

// Is makes errors.Is(err, ErrNodeIDTaken) hold.
func (e *NodeIDTakenError) Is(target error) bool { return target == ErrNodeIDTaken }

// NodeJoinParams is a node starting.
type NodeJoinParams struct {
	ID, Addr, Version string
	// Lease is how long after its last heartbeat a node still counts as
	// live.
	Lease time.Duration
}

// NodeHeartbeatParams is one heartbeat of a node.
type NodeHeartbeatParams struct {
	ID, Addr string
	State    string // record.NodeJoining, NodeServing, NodeDraining or NodeGone (its last)
	Load     int
}

// NodeExpireParams marks silent nodes gone and forgets old ones.
type NodeExpireParams struct {
	Lease  time.Duration // a node silent this long is gone
	Forget time.Duration // a gone node silent this long is deleted
}

// Nodes is cluster membership: one row per node id, kept by the node's
// heartbeats. Part of Store; both backends implement it and storetest
// specifies it. Nodes belong to no project. Times are the store's clock.
type Nodes interface {
	// NodeJoin records the node as joining at p.Addr, heartbeat and
	// start now. An id whose row is gone, silent for p.Lease, or at the
	// same address (a restart) is taken over; one a live node holds at
	// another address is refused with *NodeIDTakenError, atomically
	// against concurrent joins.
	NodeJoin(ctx context.Context, p NodeJoinParams) error
	// NodeHeartbeat stamps the node's row with now, p.State and p.Load;
	// ErrNotFound when the row is not at p.Addr any more (another node
	// took the id over after this one fell silent) or was forgotten.
	NodeHeartbeat(ctx context.Context, p NodeHeartbeatParams) error
	// NodeList returns every node the store knows, by id.
	NodeList(ctx context.Context) ([]record.Node, error)
	// NodeExpire marks gone the nodes not gone whose last heartbeat is
	// p.Lease old or more, deletes gone nodes silent for p.Forget, and
	// returns the ids it marked gone.
	NodeExpire(ctx context.Context, p NodeExpireParams) ([]string, error)
	// NodeRelease ends every lease node id holds, at once: its workflow
	// tasks become due and claimable, its objects' leases expire, and the
	// messages it received and has not acked become visible again with
	// their receipts cleared. A gone node's leases are released by the
	// node that declared it gone, a draining node's by itself as it
	// exits, so others take the work without waiting for the leases to
	// run out. The old holder stays fenced: its acks no longer match,
	// and its commits fail once another node claims the task or object.
	NodeRelease(ctx context.Context, id string) (NodeReleased, error)
}

// NodeReleased is what NodeRelease freed.
type NodeReleased struct {
	Tasks, Objects, Messages int
	// Queues names the queues whose messages became visible, each once,
	// so their consumers can be woken.
	Queues []string
}
