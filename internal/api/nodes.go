package api

import (
	"context"
	"net/http"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/cluster"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
)

// NodeLister is what the API needs of cluster membership: the nodes
// sharing the store, with silent ones shown gone, and this node's id.
type NodeLister interface {
	Nodes(ctx context.Context) ([]record.Node, error)
	ID() string
}

var _ NodeLister = (*cluster.Membership)(nil)

// routeNodes registers GET /nodes. Nodes belong to no project: the route
// is AdminOnly (a token of every project; read scope is enough), so a
// project-scoped token gets 403 and learns nothing of the cluster.
func (a *API) routeNodes() {
	a.handle("GET /nodes", a.nodes)
	// What this node serves: `strata deploy` asks each live node, to
	// report when all of them serve what it deployed. AdminOnly as
	// GET /nodes: function names of every project.
	a.handle("GET /node", a.node)
}

func (a *API) node(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Serving == nil || a.cfg.Nodes == nil {
		return gateway.Errorf(http.StatusServiceUnavailable, "this node keeps no cluster membership")
	}
	out := apitype.NodeServing{ID: a.cfg.Nodes.ID(), Versions: map[string]int{}}
	for _, v := range a.cfg.Serving() {
		out.Versions[v.Function] = v.Number
	}
	return writeJSON(w, http.StatusOK, out)
}

func (a *API) nodes(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Nodes == nil {
		return gateway.Errorf(http.StatusServiceUnavailable, "this node keeps no cluster membership")
	}
	ns, err := a.cfg.Nodes.Nodes(r.Context())
	if err != nil {
		return err
	}
	out := apitype.NodesResponse{Nodes: make([]apitype.Node, len(ns)), Self: a.cfg.Nodes.ID()}
	for i, n := range ns {
		out.Nodes[i] = apitype.Node{ID: n.ID, Addr: n.Addr, State: n.State, Version: n.Version, Load: n.Load,
			StartedAt: n.StartedAt, LastHeartbeat: n.Heartbeat}
	}
	return writeJSON(w, http.StatusOK, out)
}
