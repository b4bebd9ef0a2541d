package record

import "time"

// Node states. A node is joining from its start until what is deployed is
// loaded, serving then, draining from a stop request (SIGTERM) until it
// exits, and gone once it exited or stopped heartbeating for longer than
// the membership lease.
const (
	NodeJoining  = "joining"
	NodeServing  = "serving"
	NodeDraining = "draining"
	NodeGone     = "gone"
)

// Node is one Strata node of a store, as its heartbeats recorded it.
// Nodes are cluster-wide: they belong to no project.
type Node struct {
	ID        string    // --node-id; also the owner name of its leases
	Addr      string    // the address it advertises (--advertise)
	State     string    // NodeJoining, NodeServing, NodeDraining or NodeGone
	Version   string    // of its binary
	Load      int       // invocations in flight at its last heartbeat
	StartedAt time.Time // when this incarnation joined
	Heartbeat time.Time // its last heartbeat
}
