package api

import (
	"net/http"

	"github.com/stratahq/strata/internal/apitype"
	"github.com/stratahq/strata/internal/gateway"
	"github.com/stratahq/strata/internal/record"
	"github.com/stratahq/strata/internal/sockets"
)

// routeConnections mounts the WebSocket connections of this node. A
// project-scoped token sees and closes its own project's only: another
// project's connection is 404, as if it did not exist (ids are not
// secrets, so the check is what protects them).
func (a *API) routeConnections() {
	a.handleToken("GET /connections", AnyProject, a.connectionList)
	a.handleToken("DELETE /connections/{id}", AnyProject, a.connectionClose)
}

func (a *API) sockets() (*sockets.Hub, error) {
	if a.cfg.Sockets == nil {
		return nil, gateway.Errorf(http.StatusServiceUnavailable, "WebSockets are not enabled on this server")
	}
	return a.cfg.Sockets, nil
}

// connectionList lists the connections of the token's project, or of
// ?project= (every project without it) for a token of every project.
func (a *API) connectionList(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	hub, err := a.sockets()
	if err != nil {
		return err
	}
	project := r.URL.Query().Get("project")
	if tok.Project != "" {
		if project != "" && project != tok.Project {
			return a.allow(tok, project)
		}
		project = tok.Project
	}
	list := hub.List(project)
	out := make([]apitype.ConnectionInfo, 0, len(list))
	for _, c := range list {
		ci := apitype.ConnectionInfo{ID: c.ID, Project: c.Owner.Project, Function: c.Owner.Function, Route: c.Owner.Route,
			Tags: c.Tags, AttachmentBytes: len(c.Attachment), Opened: c.Opened, Remote: c.Remote}
		if c.Owner.Object != (record.ObjectKey{}) {
			ci.Object = c.Owner.Object.String()
		}
		out = append(out, ci)
	}
	return writeJSON(w, http.StatusOK, apitype.ConnectionList{Connections: out})
}

// connectionClose closes one connection with 1000 (its handlers hear it
// as any close) and answers 204.
func (a *API) connectionClose(w http.ResponseWriter, r *http.Request, tok record.Token) error {
	hub, err := a.sockets()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	c, ok := hub.Get(id)
	if !ok || !a.allowed(tok, c.Owner().Project) {
		return gateway.Errorf(http.StatusNotFound, "no WebSocket connection %s on this node", id)
	}
	if err := c.Close(sockets.CodeNormal, "closed through the admin API"); err != nil {
		return gateway.Errorf(http.StatusNotFound, "no WebSocket connection %s on this node (it just closed)", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
