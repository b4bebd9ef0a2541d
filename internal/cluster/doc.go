// Package cluster owns a node's membership in the cluster of nodes sharing
// one store: its id and advertised address, the heartbeat that keeps its
// row in the store (state, version, load), refusing to start under an id a
// live node holds elsewhere, declaring silent nodes gone after the lease,
// and the view of the nodes the admin API lists.
//
// It does not own leases on work (flow tasks, objects, queue messages):
// those live with their engines, which name this node's id as their
// owner, and expire on their own. Nor does it drain a node: the server
// does, and tells membership the state.
package cluster
