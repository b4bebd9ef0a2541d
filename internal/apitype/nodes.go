package apitype

import "time"

// Node is one node of the cluster (GET /nodes): nodes sharing the store,
// as their heartbeats recorded them. Nodes are cluster-wide, not of a
// project.
type Node struct {
	ID            string    `json:"id"`
	Addr          string    `json:"addr"`
	State         string    `json:"state"` // joining, serving, draining or gone
	Version       string    `json:"version"`
	Load          int       `json:"load"` // invocations in flight at its last heartbeat
	StartedAt     time.Time `json:"started_at"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
}

// NodesResponse is GET /nodes: every node by id, and the one answering.
type NodesResponse struct {
	Nodes []Node `json:"nodes"`
	Self  string `json:"self"`
}

// NodeServing answers GET /node: the node that answered and the version
// of each function it serves now (its registry, not the store's view).
type NodeServing struct {
	ID       string         `json:"id"`
	Versions map[string]int `json:"versions"`
}
